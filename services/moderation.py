"""Content security for what members write, and the moderation queue of community staff.

Only members' text is checked (WeChat's ``msg_sec_check`` with the writer's openid; scene 1 names, 2 comments,
ratings and notes, 3 appeal titles and contents); staff text is not. Checked: a member's name (``PATCH /me``), an
appeal's title and content, its rating comment, a wish's fulfilment note and a correction request's reason.
``risky`` → 422 ``content_rejected`` naming the field, and nothing is stored; ``review``, or WeChat failing →
stored, and queued here: the object carries ``"moderation": "review"`` and other members do not see it until
community staff approve it (a name written before its member reported anywhere waits for a sysadmin). Rejected
text is erased from its object (empty, or null where the field may be) and its author told (``content_rejected``);
a rejected photo is removed everywhere (services/uploads.py). Decisions are conditional updates from ``review``: of
two staff deciding at once one applies, the other gets 409 ``invalid_state``.
"""

from sqlalchemy import delete, exists, select

from clock import utcnow
from errors import Conflict, ContentRejected, NotFound, ValidationFailed
from extensions import db
from models import Appeal, CorrectionRequest, ModerationItem, Upload, User, Wish
from models.moderation import ModerationStatus
from services import notifications, uploads, wechat
from services.authz import (
    community_field,
    fetch,
    region_scope,
    require_community_staff,
    within_scope,
)
from services.database import among, update_if, where_given

SCENE_NAME, SCENE_COMMENT, SCENE_POST = 1, 2, 3
# What moderation may erase: object type → model.
MODERATED = {"appeal": Appeal, "user": User, "wish": Wish, "correction": CorrectionRequest}


def member_author(actor):
    """The author whose text is checked: the caller's user, unless it holds a staff role (staff text is not)."""
    return None if actor.roles else actor.user


def screen(author, fields, scene):
    """Check a member's ``{field: text}``: 422 ``content_rejected`` naming every risky field; returns the fields
    that go to review. ``author`` None (staff text) is not checked."""
    if author is None or author.openid is None:
        return []
    verdicts = {field: wechat.text_verdict(text, scene, author.openid) for field, text in fields.items() if text}
    risky = [field for field, verdict in verdicts.items() if verdict == "risky"]
    if risky:
        raise ContentRejected({field: ["内容含有不适宜公开的信息"] for field in risky})
    return [field for field, verdict in verdicts.items() if verdict == "review"]


def hold(community_id, object_type, object_id, fields, author_id):
    """Queue ``{field: text}`` of an object for community staff."""
    now = utcnow()
    db.session.add_all([ModerationItem(community_id=community_id, object_type=object_type, object_id=object_id,
                                       field=field, text=text, author_id=author_id, created_at=now)
                        for field, text in fields.items()])
    db.session.flush()


def supersede(object_type, object_id, field):
    """The field was written again: what waited for staff is no longer the object's text, and leaves the queue."""
    db.session.execute(delete(ModerationItem).where(
        ModerationItem.object_type == object_type, ModerationItem.object_id == object_id,
        ModerationItem.field == field, ModerationItem.status == ModerationStatus.REVIEW))


def review_column(object_type, object_id):
    """SQL: whether the object (its id, a column of the statement) has text or a photo waiting for staff; for a
    statement that reads a page of them (``under_review`` for objects already read; appeals' photos are apart)."""
    return exists().where(ModerationItem.object_type == object_type, ModerationItem.object_id == object_id,
                          ModerationItem.status == ModerationStatus.REVIEW)


def under_review(object_type, object_ids):
    """Those of these objects with text or a photo waiting for staff (one query each)."""
    if not object_ids:
        return set()
    held = set(db.session.scalars(select(ModerationItem.object_id).where(
        ModerationItem.object_type == object_type, among(ModerationItem.object_id, object_ids),
        ModerationItem.status == ModerationStatus.REVIEW)))
    if object_type == "appeal":
        held |= uploads.held_appeal_ids(object_ids)
    return held


def _not_found():
    return NotFound("moderation_not_found", "待审核内容不存在或不在管辖范围内")


def list_items(actor, *, community_id=None, status=ModerationStatus.REVIEW):
    """The queue of the caller's communities (community staff), oldest first."""
    require_community_staff(actor)
    if community_id is not None:
        within_scope(actor, community_field(community_id))
    query = select(ModerationItem).where(region_scope(actor, ModerationItem.community_id)).order_by(ModerationItem.id)
    return where_given(query, (ModerationItem.community_id, community_id), (ModerationItem.status, status))


def present(items):
    photos = {u.id: u for u in db.session.scalars(select(Upload).where(
        Upload.id.in_([i.upload_id for i in items if i.upload_id])))}
    shown = []
    for item in items:
        photo = photos.get(item.upload_id)
        entry = {"id": item.id, "object": {"type": item.object_type, "id": item.object_id}, "field": item.field,
                 "author_id": item.author_id, "at": item.created_at, "status": item.status,
                 "community_id": item.community_id, "reason": item.reason, "decided_at": item.decided_at}
        if item.upload_id is not None:
            entry["photo"] = uploads.present(photo) if photo is not None and photo.review != "rejected" else None
        else:
            entry["text"] = item.text
        shown.append(entry)
    return shown


def access_item(actor, item_id):
    """An item of the caller's communities, locked for a decision; 404 outside them."""
    require_community_staff(actor)
    item = fetch(ModerationItem, item_id, _not_found(), lock=True)
    # A name written before its member reported to any community is for a sysadmin to decide.
    if not (actor.is_sysadmin if item.community_id is None else actor.covers_community_id(item.community_id)):
        raise _not_found()
    return item


def _decide(actor, item_id, to, reason=None):
    item = access_item(actor, item_id)
    if not update_if(item, ModerationItem.status == ModerationStatus.REVIEW, status=to, reason=reason,
                     decided_by=actor.id, decided_at=utcnow()):
        raise Conflict("invalid_state", "该内容已审核")
    return item


def approve(actor, item_id):
    """The text or photo is shown to everyone who may see its object."""
    item = _decide(actor, item_id, ModerationStatus.APPROVED)
    if item.upload_id is not None:
        uploads.pass_photo(db.session.get(Upload, item.upload_id))
    return item


def reject(actor, item_id, *, reason):
    """Rejected text is erased from its object, a rejected photo removed; the author is told."""
    if not reason or not reason.strip():
        raise ValidationFailed({"reason": ["请填写原因"]})
    item = _decide(actor, item_id, ModerationStatus.REJECTED, reason.strip())
    if item.upload_id is not None:
        uploads.remove(db.session.get(Upload, item.upload_id))
        return item
    row = db.session.get(MODERATED[item.object_type], item.object_id)
    column = row.__table__.c[item.field]
    setattr(row, item.field, None if column.nullable else "")
    item.text = None
    db.session.flush()
    if item.author_id is not None:
        notifications.notify(item.author_id, "content_rejected", "您提交的内容未通过审核，已被删除", reason.strip(),
                             ref=f"{item.object_type}:{item.object_id}", key=f"moderation:{item.id}:rejected")
    return item
