"""seed-demo's wishes step: wishes in every state, lists, projects, points and notifications that hold together."""

from sqlalchemy import func, select

from demo import foundation, wishes
from extensions import db
from models import Need, Notification, PointsEntry, Project, Resource, Wish
from models.project import ProjectStatus
from models.wish import WishStatus
from services import points


def test_demo_wishes_cover_every_state_and_stay_consistent():
    ctx = {}
    foundation.seed(ctx)
    summary = wishes.seed(ctx)
    assert summary["wishes"] == db.session.scalar(select(func.count()).select_from(Wish))
    assert set(db.session.scalars(select(Wish.status).distinct())) == set(WishStatus)
    assert set(db.session.scalars(select(Project.status).distinct())) == set(ProjectStatus)
    assert db.session.scalar(select(func.count()).select_from(Need)) == summary["needs"] > 0
    assert {r.owner_type for r in db.session.scalars(select(Resource))} == {"community", "unit"}
    for project in db.session.scalars(select(Project)):
        assert project.needs and all(n.community_id == project.community_id for n in project.needs)
        assert all(r.community_id == project.community_id for r in project.resources)
    completed = list(db.session.scalars(select(Wish).where(Wish.status == "completed")))
    assert db.session.scalar(select(func.sum(PointsEntry.delta))) == points.POINTS_PER_COMPLETED_WISH * len(completed)
    for wish in completed:
        assert points.balance(wish.claimed_by) >= points.POINTS_PER_COMPLETED_WISH
    kinds = set(db.session.scalars(select(Notification.kind).distinct()))
    assert {"wish_claimed", "wish_completed", "report_approved"} <= kinds
