"""Teams for tests: a community's or a unit's, with its leaders, members and pending requests."""

from clock import utcnow
from extensions import db
from models import Team, TeamMember, Unit
from models.team import name_key
from services import rollups
from services.teams import team_community_id


def make_team(owner, name="老党员先锋队", join_policy="approval", leaders=(), members=(), pending=(), status="active"):
    """A team of a community (a Region) or a unit, with active leaders and members and pending requests, counted in
    the overview's rollup while active."""
    owner_column = "owner_unit_id" if isinstance(owner, Unit) else "owner_community_id"
    team = Team(name=name, name_key=name_key(name), join_policy=join_policy, status=status,
                **{owner_column: owner.id})
    db.session.add(team)
    db.session.flush()
    if status == "active":
        rollups.teams_changed(team_community_id(team), +1)
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
