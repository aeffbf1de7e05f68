"""The outbox of WeChat subscribe messages: rows written in the unit of work that decided to send them, delivered
afterwards by a job.

A message is keyed by the event it tells of, so it is queued once however often that event is seen. Delivery claims
a message with a conditional update (``pending`` → ``sending``) and commits the claim before calling WeChat, so two
senders never send one message, and a send interrupted after its claim is given up rather than risked twice. A
WeChat error leaves it pending with a growing delay, until ``MAX_ATTEMPTS``; an answer WeChat would give again
(the member refused, the quota is spent, or never subscribed) fails it at once.

Each message spends one of the member's subscription grants (services/subscriptions.py), taken in the transaction
of its first claim: without one it is not sent; a retry reuses the grant it took; a refusal spends it.
"""

import logging
from datetime import timedelta

from sqlalchemy import select, update

from clock import utcnow
from errors import ServiceUnavailable
from extensions import db
from integrations.wechat import WeChatRefused, WeChatSendUncertain, WeChatUnavailable
from models import OutboundMessage, SubscriptionGrant, User
from models.notification import OutboundStatus
from services import wechat
from services.database import commit_batch, insert_ignoring_conflicts

log = logging.getLogger("baodao.outbox")

MAX_ATTEMPTS = 8
# A message claimed this long ago and never marked was interrupted mid-send; it is not sent again.
SEND_LEASE = timedelta(minutes=10)
# errcodes WeChat will answer the same way however often we ask (the member refused or never subscribed).
# 45009: the daily quota is spent; by tomorrow the message is stale (and WeChat has counted the grant).
FINAL_ERRCODES = {43101, 45009, 47003, 40003}


def enqueue(member_id, key, template_id, page, data):
    """Queue one subscribe message for the member, once per ``key``."""
    now = utcnow()
    db.session.execute(insert_ignoring_conflicts(OutboundMessage).values(
        member_id=member_id, key=key, payload={"template_id": template_id, "page": page, "data": data},
        status=OutboundStatus.PENDING, attempts=0, next_attempt_at=now, created_at=now))


def backoff(attempts):
    """1, 2, 4 … minutes after each failure, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def _claim(message_id, now):
    """Pending and due → ``sending`` (committed by the caller before the send); of two senders exactly one gets it."""
    result = db.session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == message_id, OutboundMessage.status == OutboundStatus.PENDING,
               OutboundMessage.next_attempt_at <= now)
        .values(status=OutboundStatus.SENDING, attempts=OutboundMessage.attempts + 1,
                next_attempt_at=now + SEND_LEASE)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def take_grant(member_id, template_id):
    """Spend one of the member's grants for the template; False when none is left (of two takers of the last one,
    exactly one gets it)."""
    result = db.session.execute(
        update(SubscriptionGrant)
        .where(SubscriptionGrant.member_id == member_id, SubscriptionGrant.template_id == template_id,
               SubscriptionGrant.grants_left > 0)
        .values(grants_left=SubscriptionGrant.grants_left - 1, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _finish(message_id, **values):
    db.session.execute(update(OutboundMessage).where(OutboundMessage.id == message_id,
                                                     OutboundMessage.status == OutboundStatus.SENDING)
                       .values(**values).execution_options(synchronize_session=False))
    commit_batch()


def _give_up_interrupted(now):
    """A send interrupted after its claim may or may not have reached WeChat: never risk a second copy."""
    result = db.session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.status == OutboundStatus.SENDING, OutboundMessage.next_attempt_at < now)
        .values(status=OutboundStatus.FAILED, last_error="interrupted during send")
        .execution_options(synchronize_session=False))
    if result.rowcount:
        log.warning("%s outbound messages were interrupted mid-send and are not retried", result.rowcount)


def _retry_or_fail(message, attempts, error, final=False):
    """Retried later with its grant; given up after MAX_ATTEMPTS, when WeChat never took it, the grant goes back.
    A final answer (refused, quota) spends the grant."""
    given_up = not final and attempts >= MAX_ATTEMPTS
    if given_up:
        _give_back_grant(message.member_id, message.payload["template_id"])
    _finish(message.id, status=OutboundStatus.FAILED if final or given_up else OutboundStatus.PENDING,
            last_error=error, next_attempt_at=utcnow() + backoff(attempts))


def _give_back_grant(member_id, template_id):
    db.session.execute(update(SubscriptionGrant)
                       .where(SubscriptionGrant.member_id == member_id, SubscriptionGrant.template_id == template_id)
                       .values(grants_left=SubscriptionGrant.grants_left + 1, updated_at=utcnow())
                       .execution_options(synchronize_session=False))


def deliver_pending(limit=200):
    """Send due pending messages, each claimed and finished in a transaction of its own (``commit_batch``);
    returns how many were sent."""
    now = utcnow()
    _give_up_interrupted(now)
    ids = list(db.session.scalars(
        select(OutboundMessage.id)
        .where(OutboundMessage.status == OutboundStatus.PENDING, OutboundMessage.next_attempt_at <= now)
        .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id).limit(limit)))
    commit_batch()
    if not ids:
        return 0
    try:
        client = wechat.client()
    except ServiceUnavailable:
        log.warning("%s messages wait: WeChat is not configured", len(ids))
        return 0
    sent = 0
    for message_id in ids:
        if not _claim(message_id, utcnow()):
            commit_batch()
            continue
        message = db.session.get(OutboundMessage, message_id, populate_existing=True)
        openid = db.session.scalar(select(User.openid).where(User.id == message.member_id))
        payload, attempts = dict(message.payload), message.attempts
        if not openid:
            _finish(message_id, status=OutboundStatus.FAILED, last_error="member has no openid")
            continue
        if not message.grant_taken:
            if not take_grant(message.member_id, payload["template_id"]):
                _finish(message_id, status=OutboundStatus.FAILED, last_error="no subscription grant left")
                continue
            db.session.execute(update(OutboundMessage).where(OutboundMessage.id == message_id)
                               .values(grant_taken=True).execution_options(synchronize_session=False))
        # The claim and the grant together, before WeChat is called.
        commit_batch()
        try:
            client.send_subscribe_message(openid, payload["template_id"], payload["page"], payload["data"])
        except WeChatRefused as exc:
            _retry_or_fail(message, attempts, f"errcode {exc.errcode}", final=exc.errcode in FINAL_ERRCODES)
            continue
        except WeChatSendUncertain:
            # It may have been delivered; a second copy is worse than a missing message.
            _finish(message_id, status=OutboundStatus.FAILED, last_error="timed out while sending")
            continue
        except WeChatUnavailable:
            _retry_or_fail(message, attempts, "wechat unavailable")
            continue
        _finish(message_id, status=OutboundStatus.SENT, sent_at=utcnow(), last_error=None)
        sent += 1
    if sent:
        log.info("%s subscribe messages sent", sent)
    return sent
