"""Teams for tests: a community's or a unit's, with its leaders, members and pending requests."""

from clock import utcnow
from extensions import db
from models import Team, TeamMember, Unit
from models.team import name_key


def make_team(owner, name="老党员先锋队", join_policy="approval", leaders=(), members=(), pending=()):
    """A team of a community (a Region) or a unit, with active leaders and members and pending requests."""
    owner_column = "owner_unit_id" if isinstance(owner, Unit) else "owner_community_id"
    team = Team(name=name, name_key=name_key(name), join_policy=join_policy, status="active",
                **{owner_column: owner.id})
    db.session.add(team)
    db.session.flush()
    for member in leaders:
        db.session.add(TeamMember(team_id=team.id, member_id=member.id, status="active", role="leader",
                                  joined_at=utcnow()))
    for member in members:
        db.session.add(TeamMember(team_id=team.id, member_id=member.id, status="active", role="member",
                                  joined_at=utcnow()))
    for member in pending:
        db.session.add(TeamMember(team_id=team.id, member_id=member.id, status="pending", role="member"))
    db.session.commit()
    return team
