"""Shift reminders: the evening before (20:00 local the day before) and one hour before each shift.

Each assignee gets a notification (``GET /me/notifications``) and, with an openid, a WeChat subscribe message queued
as an ``OutboundMessage``. Both are keyed ``reminder:<assignment>:<kind>``, so a reminder is made once however often
the job runs. Delivery claims a message with a conditional update before sending it: a message is never sent twice;
a WeChat error leaves it pending with a growing delay, until ``MAX_ATTEMPTS``.
"""

import logging
from datetime import UTC, datetime, time, timedelta

from flask import current_app
from sqlalchemy import select, update

from errors import ServiceUnavailable
from extensions import db
from integrations.wechat import WeChatClient, WeChatSendFailed, WeChatSendUncertain
from models import OutboundMessage, Post, Shift, ShiftAssignment, User
from services import notifications
from services.clock import local_zone, to_local, utcnow
from services.database import insert_ignoring_conflicts

log = logging.getLogger("baodao.reminders")

EVENING_AT = time(20, 0)
HOUR_BEFORE = timedelta(hours=1)
REMINDED = ("assigned", "standin_requested")
MAX_ATTEMPTS = 8
# A message claimed this long ago and never marked was interrupted mid-send; it is not sent again.
SEND_LEASE = timedelta(minutes=10)
# errcodes WeChat will answer the same way however often we ask (the member refused or never subscribed).
FINAL_ERRCODES = {43101, 47003, 40003}


def due_kind(shift_starts_at, now):
    """Which reminder is due now for a shift: ``hour`` in its last hour, ``evening`` from 20:00 the day before."""
    if shift_starts_at <= now:
        return None
    if now >= shift_starts_at - HOUR_BEFORE:
        return "hour"
    local_day = to_local(shift_starts_at).date()
    evening = datetime.combine(local_day - timedelta(days=1), EVENING_AT, tzinfo=local_zone()).astimezone(UTC)
    return "evening" if now >= evening else None


def backoff(attempts):
    """1, 2, 4 … minutes after each failure, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


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
        .where(ShiftAssignment.status.in_(REMINDED), Shift.starts_at > now,
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
            payload = {"template_id": template_id, "page": f"pages/shifts/detail?id={shift.id}",
                       "data": _message_data(shift, post)}
            db.session.execute(insert_ignoring_conflicts(OutboundMessage).values(
                member_id=assignment.member_id, key=key, payload=payload, status="pending", attempts=0,
                next_attempt_at=now, created_at=now))
    db.session.commit()
    return due


def _claim(message_id, now):
    """Pending and due → ``sending``; of two senders exactly one gets it."""
    result = db.session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == message_id, OutboundMessage.status == "pending",
               OutboundMessage.next_attempt_at <= now)
        .values(status="sending", attempts=OutboundMessage.attempts + 1, next_attempt_at=now + SEND_LEASE)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def _finish(message_id, **values):
    db.session.execute(update(OutboundMessage).where(OutboundMessage.id == message_id,
                                                     OutboundMessage.status == "sending")
                       .values(**values).execution_options(synchronize_session=False))
    db.session.commit()


def _give_up_interrupted(now):
    """A send interrupted after its claim may or may not have reached WeChat: never risk a second copy."""
    result = db.session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.status == "sending", OutboundMessage.next_attempt_at < now)
        .values(status="failed", last_error="interrupted during send")
        .execution_options(synchronize_session=False))
    db.session.commit()
    if result.rowcount:
        log.warning("%s outbound messages were interrupted mid-send and are not retried", result.rowcount)


def deliver_pending(limit=200):
    """Send due pending messages; returns how many were sent."""
    now = utcnow()
    _give_up_interrupted(now)
    ids = list(db.session.scalars(
        select(OutboundMessage.id).where(OutboundMessage.status == "pending", OutboundMessage.next_attempt_at <= now)
        .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id).limit(limit)))
    db.session.commit()
    if not ids:
        return 0
    try:
        client = WeChatClient.from_config()
    except ServiceUnavailable:
        log.warning("%s reminders wait: WeChat is not configured", len(ids))
        return 0
    sent = 0
    for message_id in ids:
        if not _claim(message_id, utcnow()):
            continue
        message = db.session.get(OutboundMessage, message_id)
        openid = db.session.scalar(select(User.openid).where(User.id == message.member_id))
        payload, attempts = dict(message.payload), message.attempts
        db.session.commit()
        if not openid:
            _finish(message_id, status="failed", last_error="member has no openid")
            continue
        try:
            client.send_subscribe_message(openid, payload["template_id"], payload["page"], payload["data"])
        except WeChatSendFailed as exc:
            final = exc.errcode in FINAL_ERRCODES or attempts >= MAX_ATTEMPTS
            _finish(message_id, status="failed" if final else "pending", last_error=f"errcode {exc.errcode}",
                    next_attempt_at=utcnow() + backoff(attempts))
            continue
        except WeChatSendUncertain:
            # It may have been delivered; a second copy is worse than a missing reminder.
            _finish(message_id, status="failed", last_error="timed out while sending")
            continue
        except ServiceUnavailable:
            _finish(message_id, status="failed" if attempts >= MAX_ATTEMPTS else "pending",
                    last_error="wechat unavailable", next_attempt_at=utcnow() + backoff(attempts))
            continue
        _finish(message_id, status="sent", sent_at=utcnow(), last_error=None)
        sent += 1
    if sent:
        log.info("%s reminders sent", sent)
    return sent


def send_reminders():
    """Queue the reminders now due and deliver every pending message."""
    due = enqueue_reminders()
    sent = deliver_pending()
    return {"reminders_due": due, "messages_sent": sent}
