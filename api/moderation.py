from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDateTime, Text
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from api.uploads import PhotoSchema
from models.moderation import ModerationStatus
from services import moderation
from services.authz import require_community_staff

blp = Blueprint("moderation", __name__, url_prefix="/api/v1",
                description="Content members wrote that WeChat could not clear, for community staff to decide")


class ObjectRefSchema(Schema):
    type = fields.String(required=True)
    id = Integer(required=True)


class ModerationItemSchema(Schema):
    id = Integer(required=True)
    object = fields.Nested(ObjectRefSchema, required=True)
    field = fields.String(required=True)
    text = fields.String(allow_none=True, metadata={"description": "For text (erased once rejected)"})
    photo = fields.Nested(PhotoSchema, allow_none=True, metadata={"description": "For a photo"})
    author_id = Integer(required=True, allow_none=True)
    at = LocalDateTime(required=True)
    status = fields.String(required=True, validate=validate.OneOf(list(ModerationStatus)))
    community_id = Integer(required=True, allow_none=True)
    reason = fields.String(required=True, allow_none=True)
    decided_at = LocalDateTime(required=True, allow_none=True)


class ModerationListArgs(PageArgs):
    community_id = Id()
    status = fields.String(load_default=ModerationStatus.REVIEW, validate=validate.OneOf(list(ModerationStatus)))


class ModerationRejectSchema(Schema):
    reason = Text(multiline=True, required=True, validate=validate.Length(min=1, max=500))


@blp.route("/moderation")
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(ModerationListArgs, location="query")
@blp.response(200, page_of(ModerationItemSchema))
def list_moderation_items(args):
    """The queue of the caller's communities, oldest first (status `review` unless asked otherwise)."""
    return paginate(moderation.list_items(current_actor(), **filters(args)), args, moderation.present)


@blp.route("/moderation/<int:item_id>/approve", methods=["POST"])
@jwt_required()
@allowed(require_community_staff)
@blp.response(200, ModerationItemSchema)
@blp.alt_response(409, description="Decided already (invalid_state)")
def approve_moderation_item(item_id):
    """Show the text or photo to everyone who may see its object."""
    return moderation.present([moderation.approve(current_actor(), item_id)])[0]


@blp.route("/moderation/<int:item_id>/reject", methods=["POST"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(ModerationRejectSchema)
@blp.response(200, ModerationItemSchema)
@blp.alt_response(409, description="Decided already (invalid_state)")
def reject_moderation_item(body, item_id):
    """Erase the text (or remove the photo) and tell its author (`content_rejected`)."""
    return moderation.present([moderation.reject(current_actor(), item_id, **body)])[0]
