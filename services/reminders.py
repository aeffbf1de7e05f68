"""Shift reminders: the evening before (20:00 local the day before) and one hour before each shift.

Each assignee gets a notification (``GET /me/notifications``) and, with an openid, a WeChat subscribe message in the
outbox (services/outbox.py). Both are keyed ``reminder:<assignment>:<kind>``, so a reminder is made once however
often the job runs.
"""

from datetime import UTC, datetime, time, timedelta

from flask import current_app
from sqlalchemy import select

from clock import local_zone, to_local, utcnow
from extensions import db
from models import Post, Shift, ShiftAssignment, User
from models.post import AssignmentStatus
from services import notifications, outbox
from services.database import commit_batch

EVENING_AT = time(20, 0)
HOUR_BEFORE = timedelta(hours=1)


def due_kind(shift_starts_at, now):
    """Which reminder is due now for a shift: ``hour`` in its last hour, ``evening`` from 20:00 the day before."""
    if shift_starts_at <= now:
        return None
    if now >= shift_starts_at - HOUR_BEFORE:
        return "hour"
    local_day = to_local(shift_starts_at).date()
    evening = datetime.combine(local_day - timedelta(days=1), EVENING_AT, tzinfo=local_zone()).astimezone(UTC)
    return "evening" if now >= evening else None


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
    now = utcnow()
    template_id = current_app.config.get("WECHAT_REMINDER_TEMPLATE_ID")
    rows = db.session.execute(
        select(ShiftAssignment, Shift, Post, User.openid)
        .join(Shift, Shift.id == ShiftAssignment.shift_id)
        .join(Post, Post.id == Shift.post_id)
        .join(User, User.id == ShiftAssignment.member_id)
        .where(ShiftAssignment.status.in_(AssignmentStatus.OPEN), Shift.starts_at > now,
               Shift.starts_at <= now + timedelta(hours=30))
        .order_by(Shift.starts_at, ShiftAssignment.id)).all()
    due = 0
    for assignment, shift, post, openid in rows:
        kind = due_kind(shift.starts_at, now)
        if kind is None:
            continue
        due += 1
        key = f"reminder:{assignment.id}:{kind}"
        when = to_local(shift.starts_at).strftime("%m月%d日 %H:%M")
        title = "值守提醒：一小时后上岗" if kind == "hour" else "值守提醒：明天有班次"
        notifications.notify(assignment.member_id, "shift_reminder", title, f"{post.name}，{when} 开始",
                             ref=f"shift:{shift.id}", key=key)
        if openid and template_id:
            outbox.enqueue(assignment.member_id, key, template_id, f"pages/shifts/detail?id={shift.id}",
                           _message_data(shift, post))
    return due


def send_reminders():
    """Queue the reminders now due, commit them, and deliver every pending message of the outbox."""
    due = enqueue_reminders()
    commit_batch()
    sent = outbox.deliver_pending()
    return {"reminders_due": due, "messages_sent": sent}
