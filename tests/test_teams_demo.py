"""seed-demo's teams step: two teams of a community and one of a unit, with leaders, members, a waiting request, a
team sign-up and a team's wish claim, all consistent with the rules the API enforces."""

from sqlalchemy import func, select

from demo import activities, foundation, teams, wishes
from extensions import db
from models import Notification, Signup, Team, TeamMember, Wish


def test_demo_teams_have_leaders_members_a_team_sign_up_and_a_team_claim():
    ctx = {}
    for step in (foundation, activities, wishes):
        step.seed(ctx)
    summary = teams.seed(ctx)
    assert summary["teams"] == db.session.scalar(select(func.count()).select_from(Team)) == 3
    assert {t.name for t in ctx["teams"]} >= {"老党员先锋队", "在职党员心愿认领队"}
    assert summary["team_members"] == db.session.scalar(select(func.count()).select_from(TeamMember))
    assert db.session.scalar(select(func.count()).select_from(TeamMember).where(TeamMember.status == "pending")) == 1
    for team in ctx["teams"]:
        assert db.session.scalar(select(func.count()).select_from(TeamMember).where(
            TeamMember.team_id == team.id, TeamMember.role == "leader")) >= 1
    team_signups = db.session.scalar(select(func.count()).select_from(Signup).where(Signup.team_id.is_not(None)))
    assert team_signups == summary["team_signups"] > 0
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "team_signup")) == team_signups
    claimed = db.session.scalar(select(Wish).where(Wish.claimer_team_id.is_not(None)))
    assert claimed.status == "claimed" and claimed.claimer_team_id == ctx["teams"][1].id
    for activity in ctx["activities"]:
        confirmed = db.session.scalar(select(func.count()).select_from(Signup).where(
            Signup.activity_id == activity.id, Signup.status == "confirmed"))
        db.session.refresh(activity)
        assert confirmed == activity.confirmed_count <= activity.capacity
