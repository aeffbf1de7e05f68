"""Subscribe messages as one-time grants (订阅消息): each template a member accepts in ``wx.requestSubscribeMessage``
is one message WeChat lets us send them. Grants are counted per member and template; the outbox takes one with a
conditional update as it claims a message (services/outbox.py), so no message goes out without one and no grant is
spent twice. An event queues a message only when ``WECHAT_TEMPLATES`` names a template for it and the member holds
a grant; the in-app notification is the caller's and is made regardless.
"""

from flask import current_app
from sqlalchemy import select, update

from clock import utcnow
from errors import ValidationFailed
from extensions import db
from models import OutboundMessage, SubscriptionGrant, User
from services import outbox
from services.authz import require_member
from services.database import insert_ignoring_conflicts, insert_rows_ignoring_conflicts

# Every event that may send a subscribe message.
EVENTS = ("shift_reminder", "activity_reminder", "report_decided", "record_decided", "wish_claimed",
          "appeal_answered", "standin_needed", "appeal_decided", "team_signup", "team_join_decided")
# WeChat keeps a thing/phrase value to 20 characters.
VALUE_LIMIT = 20


def templates():
    """event → {"id", "page", "data"} for the events configured; ``WECHAT_REMINDER_TEMPLATE_ID`` (v1) still serves
    the shift reminder when WECHAT_TEMPLATES names none."""
    config = current_app.config
    configured = {event: _normal(t) for event, t in (config.get("WECHAT_TEMPLATES") or {}).items()
                  if event in EVENTS}
    if "shift_reminder" not in configured and config.get("WECHAT_REMINDER_TEMPLATE_ID"):
        configured["shift_reminder"] = {"id": config["WECHAT_REMINDER_TEMPLATE_ID"], "page": None, "data": None}
    return configured


def _normal(template):
    """A template as config.py reads it (a bare id, or a mapping missing ``page`` or ``data``, given in code)."""
    template = {"id": template} if isinstance(template, str) else template
    return {"id": template["id"], "page": template.get("page"), "data": template.get("data") or None}


def template_ids():
    """``GET /wechat/templates``: event → template id, for ``wx.requestSubscribeMessage``."""
    return {event: template["id"] for event, template in templates().items()}


def grants_left(member_id):
    """``GET /me/subscriptions``: every configured template id → the grants the member holds for it."""
    held = dict(db.session.execute(select(SubscriptionGrant.template_id, SubscriptionGrant.grants_left)
                                   .where(SubscriptionGrant.member_id == member_id)).all())
    return {template_id: held.get(template_id, 0) for template_id in sorted(set(template_ids().values()))}


def record_grants(actor, template_ids_accepted):
    """One more grant for each template the member just accepted (``POST /me/subscriptions``)."""
    require_member(actor)
    known = set(template_ids().values())
    unknown = [t for t in template_ids_accepted if t not in known]
    if unknown:
        raise ValidationFailed({"template_ids": [f"未配置的订阅消息模板：{', '.join(unknown)}"]})
    now = utcnow()
    for template_id in sorted(set(template_ids_accepted)):
        db.session.execute(insert_ignoring_conflicts(SubscriptionGrant).values(
            member_id=actor.id, template_id=template_id, grants_left=0, updated_at=now))
        # Relative: two acceptances recorded at once both count.
        db.session.execute(update(SubscriptionGrant)
                           .where(SubscriptionGrant.member_id == actor.id, SubscriptionGrant.template_id == template_id)
                           .values(grants_left=SubscriptionGrant.grants_left + 1, updated_at=now)
                           .execution_options(synchronize_session=False))
    return grants_left(actor.id)


class _Values(dict):
    def __missing__(self, key):
        return ""


def message_data(template, values):
    """The template's ``data`` (WeChat key → value name) filled from ``values``."""
    return {key: {"value": str(values.get(name, ""))[:VALUE_LIMIT]} for key, name in (template["data"] or {}).items()}


def push(member_id, event, ref, values, page=None, data=None):
    """Queue the event's subscribe message for the member, once per event, ``ref`` and member, when a template is
    configured and the member holds a grant for it (the outbox takes the grant when it sends). ``data`` replaces
    the template's mapping (the v1 shift reminder's fixed keys)."""
    template = templates().get(event)
    if template is None:
        return False
    held = db.session.scalar(select(SubscriptionGrant.grants_left).join(User, User.id == SubscriptionGrant.member_id)
                             .where(SubscriptionGrant.member_id == member_id,
                                    SubscriptionGrant.template_id == template["id"], User.openid.is_not(None)))
    if not held:
        return False
    if template["page"]:
        # A configured page may name the values: "pages/appeals/detail?id={id}".
        page = template["page"].format_map(_Values(values))
    outbox.enqueue(member_id, f"{event}:{ref}:{member_id}", template["id"], page,
                   data if data is not None and not template["data"] else message_data(template, values))
    return True


def push_many(event, items):
    """``push`` for many members at once (a bulk approval): ``items`` are (member_id, ref, values, page); one query
    finds who holds a grant, one statement queues their messages."""
    template = templates().get(event)
    if template is None or not items:
        return 0
    holders = set(db.session.scalars(
        select(SubscriptionGrant.member_id).join(User, User.id == SubscriptionGrant.member_id)
        .where(SubscriptionGrant.member_id.in_({member_id for member_id, *_ in items}),
               SubscriptionGrant.template_id == template["id"], SubscriptionGrant.grants_left > 0,
               User.openid.is_not(None))))
    now = utcnow()
    rows = [{"member_id": member_id, "key": f"{event}:{ref}:{member_id}",
             "payload": {"template_id": template["id"],
                         "page": template["page"].format_map(_Values(values)) if template["page"] else page,
                         "data": message_data(template, values)},
             "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for member_id, ref, values, page in items if member_id in holders]
    if rows:
        insert_rows_ignoring_conflicts(OutboundMessage, rows)
    return len(rows)
