"""The demo data of issue 3: activities in every category, sign-ups, attendances and records in every state."""

from sqlalchemy import func, select

from clock import utcnow
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
    assert summary["activities"] == len(ctx["activities"]) == 34
    [unit_activity] = [a for a in ctx["activities"] if a.unit_id is not None]
    assert unit_activity.unit_id == ctx["units"][0].id and unit_activity.community_id == ctx["units"][0].community_id
    assert unit_activity.eligibility == {"political_status": ["party_member", "probationary_member"]}
    assert unit_activity.signup_opens_at < utcnow() < unit_activity.signup_closes_at < unit_activity.starts_at
    assert unit_activity.confirmed_count > 0
    assert {m.political_status for m in ctx["members"] if m.id in set(db.session.scalars(select(
        Signup.member_id).where(Signup.activity_id == unit_activity.id)))} <= {"party_member", "probationary_member"}
    now = utcnow()
    open_now = [a for a in ctx["activities"] if a.status == "published" and a.starts_at <= now < a.ends_at]
    assert len(open_now) == 1 and not open_now[0].requires_signup
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
