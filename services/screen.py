"""The organiser's check-in screen (签到大屏): a signed link that opens, with no login, a page showing the activity's
rotating check-in QR code and the live count of check-ins.

The link is a capability: an itsdangerous signature over the activity id and its end, so it needs no database row
and is valid until the activity ends (or is cancelled). Whoever holds it sees only what the screen shows anyway.
"""

from datetime import UTC, datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import distinct, func, select

from clock import to_local, utcnow
from errors import Conflict, NotFound
from extensions import db
from models import Activity, Attendance, ScreenLink, User
from models.activity import ActivityStatus
from services import checkin_tokens
from services.activities import access_activity
from services.authz import fetch
from services.checkins import EARLY_CHECKIN, qr_png

SALT = "baodao-checkin-screen"
# How often an open screen asks for the count even when the token has not rotated.
POLL_SECONDS = 3


def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _invalid_link():
    return NotFound("screen_link_invalid", "大屏链接无效或已失效")


def open_screen(actor, activity_id):
    """A screen link for an activity that has not ended, for staff of its community or above."""
    activity = access_activity(actor, activity_id, for_write=False, as_staff=True)
    if activity.status != ActivityStatus.PUBLISHED:
        raise Conflict("activity_cancelled", "活动已取消")
    if utcnow() >= activity.ends_at:
        raise Conflict("activity_ended", "活动已结束")
    link = ScreenLink(activity_id=activity.id, created_by=actor.id, created_at=utcnow())
    db.session.add(link)
    db.session.flush()
    signed = _serializer().dumps({"a": activity.id, "e": int(activity.ends_at.timestamp()), "l": link.id})
    return {"id": link.id, "url": f"{current_app.config['PUBLIC_BASE_URL']}/screen/{signed}",
            "expires_at": activity.ends_at}


def revoke_screen(actor, link_id):
    """Staff of the activity's community (or above) end a screen link at once, e.g. one shown to the wrong room."""
    link = fetch(ScreenLink, link_id, NotFound("screen_link_not_found", "大屏链接不存在"), lock=True)
    access_activity(actor, link.activity_id, for_write=False, as_staff=True)
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        db.session.flush()


def _activity_for(signed):
    """The activity a genuine link names; a forged or altered link, one revoked or made by an account since
    disabled, or a deleted activity, is 404."""
    try:
        claims = _serializer().loads(signed)
        activity_id, ends_ts, link_id = int(claims["a"]), int(claims["e"]), int(claims["l"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise _invalid_link() from None
    live = db.session.execute(
        select(ScreenLink.id).join(User, User.id == ScreenLink.created_by)
        .where(ScreenLink.id == link_id, ScreenLink.activity_id == activity_id, ScreenLink.revoked_at.is_(None),
               User.is_active.is_(True))).first()
    activity = db.session.get(Activity, activity_id) if live else None
    if activity is None:
        raise _invalid_link()
    return activity, datetime.fromtimestamp(ends_ts, tz=UTC)


def checked_in_count(activity_id):
    """People who have checked in at the activity (a member who checks in twice counts once)."""
    return db.session.scalar(select(func.count(distinct(Attendance.member_id)))
                             .where(Attendance.activity_id == activity_id))


def _status(activity, link_ends_at, now):
    if activity.status != ActivityStatus.PUBLISHED:
        return "cancelled"
    if now >= min(activity.ends_at, link_ends_at):
        return "ended"
    if now < activity.starts_at - EARLY_CHECKIN:
        return "upcoming"
    return "open"


WEEKDAYS = "一二三四五六日"


def local_date_text(moment):
    """``2026年6月1日`` in TIMEZONE."""
    local = to_local(moment)
    return f"{local.year}年{local.month}月{local.day}日"


def schedule_text(starts_at, ends_at):
    """When the activity runs, in TIMEZONE: ``2026年6月1日（星期一）09:00–11:00``; an end on a later day names it."""
    start, end = to_local(starts_at), to_local(ends_at)
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{local_date_text(end)} {end:%H:%M}"
    return f"{local_date_text(start)}（星期{WEEKDAYS[start.weekday()]}）{start:%H:%M}–{until}"


def screen_state(signed, now=None):
    """What the screen shows now: the token only while check-in is open; when to ask again. Dates and times are
    written out here, in the deployment's TIMEZONE, so a projector's browser set to another zone shows them right."""
    now = now or utcnow()
    activity, link_ends_at = _activity_for(signed)
    status = _status(activity, link_ends_at, now)
    rotate = int(current_app.config["QR_ROTATE_SECONDS"])
    opens_at = activity.starts_at - EARLY_CHECKIN
    token = expires_at = rotates_at = None
    if status == "open":
        token, expires_at = checkin_tokens.activity_token(activity, now)
        rotates_at = datetime.fromtimestamp((int(now.timestamp()) // rotate + 1) * rotate, tz=UTC)
    return {
        "title": activity.title,
        "status": status,
        "token": token,
        "expires_at": expires_at,
        "rotates_at": rotates_at,
        "rotate_seconds": rotate,
        "now": now,
        "opens_at": opens_at,
        "opens_text": f"{local_date_text(opens_at)} {to_local(opens_at):%H:%M}",
        "starts_at": activity.starts_at,
        "ends_at": activity.ends_at,
        "schedule_text": schedule_text(activity.starts_at, activity.ends_at),
        "place": activity.address,
        "checked_in": checked_in_count(activity.id),
        "poll_seconds": POLL_SECONDS,
    }


def screen_qr_png(signed):
    """The current token as a PNG QR code whose text is exactly the token; none once check-in is not open."""
    state = screen_state(signed)
    if state["status"] != "open":
        raise Conflict(f"activity_{state['status']}", "当前不在签到时间内")
    return qr_png(state["token"])
