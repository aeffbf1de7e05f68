"""Reminders: shifts the evening before (20:00 local the day before) and one hour before; activities at 18:00
local the day before, once per confirmed sign-up.

Each gets a notification (``GET /me/notifications``) and, when its template is configured and the member holds a
grant, a WeChat subscribe message in the outbox (services/subscriptions.py, services/outbox.py). Both are keyed by
the assignment or sign-up, so a reminder is made once however often the job runs, by however many schedulers.
"""

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from clock import local_zone, to_local, utcnow
from extensions import db
from models import Activity, Post, Shift, ShiftAssignment, Signup
from models.activity import ActivityStatus, SignupStatus
from models.post import AssignmentStatus
from services import notifications, outbox, subscriptions
from services.database import commit_batch

EVENING_AT = time(20, 0)
HOUR_BEFORE = timedelta(hours=1)
ACTIVITY_EVENING_AT = time(18, 0)


def _evening_before(starts_at, at):
    local_day = to_local(starts_at).date()
    return datetime.combine(local_day - timedelta(days=1), at, tzinfo=local_zone()).astimezone(UTC)


def due_kind(shift_starts_at, now):
    """Which reminder is due now for a shift: ``hour`` in its last hour, ``evening`` from 20:00 the day before."""
    if shift_starts_at <= now:
        return None
    if now >= shift_starts_at - HOUR_BEFORE:
        return "hour"
    return "evening" if now >= _evening_before(shift_starts_at, EVENING_AT) else None


def _message_data(shift, post):
    start = to_local(shift.starts_at)
    end = to_local(shift.ends_at)
    return {
        "thing1": {"value": post.name[:20]},
        "time2": {"value": start.strftime("%Y-%m-%d %H:%M")},
        "time3": {"value": end.strftime("%Y-%m-%d %H:%M")},
        "thing4": {"value": (post.address or "请按时到岗")[:20]},
    }


def enqueue_reminders():
    """Create the reminders now due (each once); returns how many notifications were due."""
    return enqueue_shift_reminders() + enqueue_activity_reminders()


def enqueue_shift_reminders():
    now = utcnow()
    rows = db.session.execute(
        select(ShiftAssignment, Shift, Post)
        .join(Shift, Shift.id == ShiftAssignment.shift_id)
        .join(Post, Post.id == Shift.post_id)
        .where(ShiftAssignment.status.in_(AssignmentStatus.OPEN), Shift.starts_at > now,
               Shift.starts_at <= now + timedelta(hours=30))
        .order_by(Shift.starts_at, ShiftAssignment.id)).all()
    due = 0
    for assignment, shift, post in rows:
        kind = due_kind(shift.starts_at, now)
        if kind is None:
            continue
        due += 1
        key = f"reminder:{assignment.id}:{kind}"
        when = to_local(shift.starts_at).strftime("%m月%d日 %H:%M")
        title = "值守提醒：一小时后上岗" if kind == "hour" else "值守提醒：明天有班次"
        notifications.notify(assignment.member_id, "shift_reminder", title, f"{post.name}，{when} 开始",
                             ref=f"shift:{shift.id}", key=key)
        values = {"id": shift.id, "post": post.name, "start": to_local(shift.starts_at).strftime("%Y-%m-%d %H:%M"),
                  "end": to_local(shift.ends_at).strftime("%Y-%m-%d %H:%M"), "address": post.address or "请按时到岗"}
        subscriptions.push(assignment.member_id, "shift_reminder", f"{assignment.id}:{kind}", values,
                           page=f"pages/shifts/detail?id={shift.id}", data=_message_data(shift, post))
    return due


def enqueue_activity_reminders():
    """From 18:00 local the day before an activity until it starts, each confirmed sign-up is reminded once."""
    now = utcnow()
    rows = db.session.execute(
        select(Signup, Activity)
        .join(Activity, Activity.id == Signup.activity_id)
        .where(Signup.status == SignupStatus.CONFIRMED, Activity.status == ActivityStatus.PUBLISHED,
               Activity.starts_at > now, Activity.starts_at <= now + timedelta(hours=30))
        .order_by(Activity.starts_at, Signup.id)).all()
    due = 0
    for signup, activity in rows:
        if now < _evening_before(activity.starts_at, ACTIVITY_EVENING_AT):
            continue
        due += 1
        when = to_local(activity.starts_at).strftime("%m月%d日 %H:%M")
        notifications.notify(signup.member_id, "activity_reminder", f"活动提醒：明天有活动 {activity.title}"[:200],
                             f"{when} 开始，{activity.address or '请按时参加'}", ref=f"activity:{activity.id}",
                             key=f"activity_reminder:{signup.id}")
        values = {"id": activity.id, "title": activity.title,
                  "start": to_local(activity.starts_at).strftime("%Y-%m-%d %H:%M"),
                  "end": to_local(activity.ends_at).strftime("%Y-%m-%d %H:%M"),
                  "address": activity.address or "请按时参加"}
        subscriptions.push(signup.member_id, "activity_reminder", str(signup.id), values,
                           page=f"pages/activities/detail?id={activity.id}")
    return due


def send_reminders():
    """Queue the reminders now due, commit them, and deliver every pending message of the outbox."""
    due = enqueue_reminders()
    commit_batch()
    sent = outbox.deliver_pending()
    return {"reminders_due": due, "messages_sent": sent}
