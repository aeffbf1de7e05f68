from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDateTime
from api.pagination import PageArgs, filters, paginate
from api.security import current_actor
from services import notifications

blp = Blueprint("notifications", __name__, url_prefix="/api/v1", description="Notifications")


class NotificationSchema(Schema):
    id = Integer(required=True)
    kind = fields.String(required=True)
    title = fields.String(required=True)
    body = fields.String(allow_none=True)
    ref = fields.String(allow_none=True, metadata={"description": "What it is about, e.g. `wish:12`"})
    read_at = LocalDateTime(allow_none=True)
    created_at = LocalDateTime(required=True)


class NotificationPageSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema), required=True)
    page = Integer(required=True)
    per_page = Integer(required=True)
    total = Integer(required=True)
    unread_count = Integer(required=True)


class NotificationListArgs(PageArgs):
    unread = fields.Boolean(metadata={"description": "true: only unread ones"})


class MarkReadSchema(Schema):
    ids = fields.List(Id(), load_default=None, allow_none=True,
                      validate=validate.Length(max=1000), metadata={"description": "Which to mark read; omitted: all"})


class MarkedSchema(Schema):
    marked = Integer(required=True)
    unread_count = Integer(required=True)


@blp.route("/me/notifications")
@jwt_required()
@blp.arguments(NotificationListArgs, location="query")
@blp.response(200, NotificationPageSchema)
def my_notifications(args):
    """What happened to the caller (reports decided, sign-ups, shift reminders, wishes, hours), newest first."""
    member_id = current_actor().id
    total, unread = notifications.counts(member_id)
    page = paginate(notifications.list_for(member_id, **filters(args)), args,
                    total=unread if args.get("unread") else total)
    return {**page, "unread_count": unread}


@blp.route("/me/notifications/read", methods=["POST"])
@jwt_required()
@blp.arguments(MarkReadSchema)
@blp.response(200, MarkedSchema)
def mark_notifications_read(body):
    """Mark the given notifications (or, without `ids`, all of them) read; others' ids are ignored."""
    member_id = current_actor().id
    marked = notifications.mark_read(member_id, body.get("ids"))
    return {"marked": marked, "unread_count": notifications.unread_count(member_id)}
