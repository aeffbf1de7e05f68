"""The demo data of issue 3: activities in every category, sign-ups, attendances and records in every state."""

from sqlalchemy import func, select

from demo import activities as demo_activities
from demo import foundation
from extensions import db
from models import Activity, Attendance, ServiceRecord, Signup
from models.activity import CATEGORIES
from services import points


def test_demo_activities_cover_every_category_and_state():
    ctx = {}
    foundation.seed(ctx)
    summary = demo_activities.seed(ctx)
    assert summary["activities"] == len(ctx["activities"]) == 32
    assert set(db.session.scalars(select(Activity.category))) == set(CATEGORIES)
    assert set(db.session.scalars(select(Activity.status))) == {"published", "cancelled"}
    assert set(db.session.scalars(select(Signup.status))) == {"confirmed", "waitlisted"}
    assert set(db.session.scalars(select(ServiceRecord.status))) == {"pending", "approved", "rejected"}
    assert set(db.session.scalars(select(ServiceRecord.source))) == {"checkin", "auto_closed", "manual"}
    assert db.session.scalar(select(func.count()).select_from(Attendance).where(Attendance.needs_review)) > 0
    for activity in db.session.scalars(select(Activity)):
        confirmed = db.session.scalar(select(func.count()).select_from(Signup).where(
            Signup.activity_id == activity.id, Signup.status == "confirmed"))
        assert confirmed == activity.confirmed_count <= activity.capacity
    approved = db.session.scalars(select(ServiceRecord).where(ServiceRecord.status == "approved")).all()
    assert sum(points.balance(m) for m in {r.member_id for r in approved}) == sum(
        points.points_for_hours(r.hours) for r in approved)
