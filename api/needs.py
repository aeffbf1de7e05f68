from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDateTime, Text
from api.meetings import MeetingMentionSchema
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from models.need import NEED_SOURCES, NeedStatus
from services import needs
from services.authz import require_region_staff

blp = Blueprint("needs", __name__, url_prefix="/api/v1", description="The need list (需求清单)")


class NeedSchema(Schema):
    id = Integer(dump_only=True)
    community_id = Id(required=True)
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    category = Text(required=True, validate=validate.Length(min=1, max=16),
                             metadata={"description": "Free text such as 养老 or 环境"})
    source = fields.String(required=True, validate=validate.OneOf(NEED_SOURCES),
                           metadata={"description": "survey, the 12345 hotline, visit, meeting or online"})
    status = fields.String(dump_only=True, validate=validate.OneOf(list(NeedStatus)),
                           metadata={"description": "open, matched (project approved), met (done)"})
    created_at = LocalDateTime(dump_only=True)
    appeal_id = fields.Integer(dump_only=True, allow_none=True,
                               metadata={"description": "The appeal it was made from, if any"})


class NeedDetailSchema(NeedSchema):
    meetings = fields.List(fields.Nested(MeetingMentionSchema), dump_only=True,
                           metadata={"description": "The meetings with it on their agenda, and what they decided"})


class NeedListArgs(PageArgs):
    community_id = Id()
    status = fields.String(validate=validate.OneOf(list(NeedStatus)))
    source = fields.String(validate=validate.OneOf(NEED_SOURCES))


@blp.route("/needs", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(NeedSchema)
@blp.response(201, NeedSchema)
def create_need(body):
    """Community staff record a need (status `open`) and where it came from."""
    return needs.create_need(current_actor(), **body)


@blp.route("/needs")
@jwt_required()
@blp.arguments(NeedListArgs, location="query")
@blp.response(200, page_of(NeedSchema))
def list_needs(args):
    """Needs, newest first, by community, status and source (any signed-in user)."""
    return paginate(needs.list_needs(**filters(args)), args)


@blp.route("/needs/<int:need_id>")
@jwt_required()
@blp.response(200, NeedDetailSchema)
@blp.alt_response(404, description="No such need (need_not_found)")
def get_need(need_id):
    """A need, with the meetings and decisions about it (any signed-in user)."""
    return needs.present_detail(needs.access_need(current_actor(), need_id))
