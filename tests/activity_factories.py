"""Factories for activities, posts with shifts, and service records (tests of issue 3)."""

from datetime import timedelta
from decimal import Decimal

from clock import utcnow
from extensions import db
from models import Activity, Appeal, Attendance, Post, ServiceRecord, Shift, ShiftAssignment, Signup
from models.post import AssignmentStatus
from services import rollups

# A place in Beijing and a point about 1.1 km north of it.
PLACE = (39.9289, 116.4177)
FAR = (39.9389, 116.4177)


def make_activity(community, starts_at=None, hours=2, capacity=5, requires_signup=True, category="order",
                  radius_m=200, status="published"):
    starts_at = starts_at or utcnow() + timedelta(days=1)
    activity = Activity(community_id=community.id, title="社区环境清整", category=category, starts_at=starts_at,
                        ends_at=starts_at + timedelta(hours=hours), capacity=capacity, confirmed_count=0,
                        address="示范路 1 号", lat=PLACE[0], lng=PLACE[1], radius_m=radius_m,
                        requires_signup=requires_signup, status=status)
    db.session.add(activity)
    db.session.commit()
    return activity


def confirm(activity, member):
    db.session.add(Signup(activity_id=activity.id, member_id=member.id, status="confirmed", created_at=utcnow()))
    activity.confirmed_count += 1
    db.session.commit()


def make_post_shift(community, starts_at, hours=2, kind="bin_station", assignees=(), status="assigned"):
    post = Post(community_id=community.id, name="3号楼桶站", kind=kind, address="3号楼", lat=PLACE[0],
                lng=PLACE[1], radius_m=100)
    db.session.add(post)
    db.session.flush()
    shift = Shift(post_id=post.id, starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours), seats=2,
                  filled=len(assignees))
    db.session.add(shift)
    db.session.flush()
    for member in assignees:
        db.session.add(ShiftAssignment(shift_id=shift.id, member_id=member.id, status=status))
    if status in AssignmentStatus.SETTLED:  # written past the services: counted as they would count them
        rollups.assignments_settled([(shift.id, status)] * len(assignees))
    db.session.commit()
    return post, shift


def make_record(member, community, hours="2.00", status="pending", started_at=None, category="order", **fields):
    started_at = started_at or utcnow() - timedelta(days=1)
    hours = Decimal(hours)
    record = ServiceRecord(member_id=member.id, community_id=community.id, category=category,
                           started_at=started_at, ended_at=started_at + timedelta(hours=float(hours) + 1),
                           hours=hours, status=status, source="manual", description="测试服务", **fields)
    db.session.add(record)
    if status == "approved":  # written past the services: counted as records.decide would
        db.session.flush()
        rollups.records_changed(added=[rollups.Contribution.of(record)])
    db.session.commit()
    return record


def make_closed_attendance(member, activity=None, shift=None):
    """A checked-out attendance written past the services, counted as ``checkins.close_attendance`` would."""
    place = activity or shift
    attendance = Attendance(member_id=member.id, activity_id=activity and activity.id, shift_id=shift and shift.id,
                            checked_in_at=place.starts_at, checked_out_at=place.ends_at, minutes=60)
    db.session.add(attendance)
    community_id = activity.community_id if activity else db.session.get(Post, shift.post_id).community_id
    rollups.attendances_closed([(community_id, attendance.checked_in_at)])
    db.session.commit()
    return attendance


def make_appeal(community, created_at):
    """A submitted appeal written past the services, counted as ``appeals.submit`` would."""
    appeal = Appeal(number=f"T{created_at:%y%m%d%H%M%S}{community.id}", community_id=community.id, kind="problem",
                    title="楼道堆物", content="影响通行", source="app", status="submitted", created_at=created_at,
                    response_due_at=created_at + timedelta(hours=24))
    db.session.add(appeal)
    db.session.flush()
    rollups.appeal_received(appeal)
    db.session.commit()
    return appeal
