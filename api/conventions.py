from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDateTime, Text
from api.meetings import PartnerNameSchema
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from services import conventions
from services.authz import require_community_staff

blp = Blueprint("conventions", __name__, url_prefix="/api/v1",
                description="Community conventions (社区公约), versioned")


class ConventionRevisionSchema(Schema):
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    text = Text(multiline=True, required=True, validate=validate.Length(min=1, max=50000))
    partner_ids = fields.List(Id(), load_default=list, validate=validate.Length(max=100),
                              metadata={"description": "The community's active partners who subscribe to it"})
    reason = Text(multiline=True, required=True, load_only=True, validate=validate.Length(min=1, max=2000))


class ConventionSchema(Schema):
    id = Integer(dump_only=True)
    community_id = Id(required=True)
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    text = Text(multiline=True, required=True, validate=validate.Length(min=1, max=50000))
    partner_ids = fields.List(Id(), load_default=list, validate=validate.Length(max=100),
                              metadata={"description": "The community's active partners who subscribe to it"})
    partners = fields.List(fields.Nested(PartnerNameSchema), dump_only=True)
    version = Integer(dump_only=True, metadata={"description": "1 when written, one more with each revision"})
    created_at = LocalDateTime(dump_only=True)
    updated_at = LocalDateTime(dump_only=True)


class ConventionVersionSchema(Schema):
    version = Integer(required=True)
    title = fields.String(required=True)
    text = fields.String(required=True)
    partner_ids = fields.List(Integer(), required=True)
    partners = fields.List(fields.Nested(PartnerNameSchema), required=True)
    reason = fields.String(required=True, allow_none=True, metadata={"description": "null for version 1"})
    recorded_at = LocalDateTime(required=True)


class ConventionListArgs(PageArgs):
    community_id = Id()


@blp.route("/conventions", methods=["POST"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(ConventionSchema)
@blp.response(201, ConventionSchema)
def create_convention(body):
    """Community staff write a convention (version 1), naming the partners who subscribe to it."""
    return conventions.present_one(conventions.create_convention(current_actor(), **body))


@blp.route("/conventions")
@jwt_required()
@blp.arguments(ConventionListArgs, location="query")
@blp.response(200, page_of(ConventionSchema))
def list_conventions(args):
    """A community's conventions in their latest versions, newest first (any signed-in user)."""
    return paginate(conventions.list_conventions(**filters(args)), args, conventions.present)


@blp.route("/conventions/<int:convention_id>")
@jwt_required()
@blp.response(200, ConventionSchema)
@blp.alt_response(404, description="No such convention (convention_not_found)")
def get_convention(convention_id):
    """The latest version."""
    return conventions.present_one(conventions.access_convention(current_actor(), convention_id, for_write=False))


@blp.route("/conventions/<int:convention_id>", methods=["PUT"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(ConventionRevisionSchema)
@blp.response(200, ConventionSchema)
@blp.alt_response(404, description="Missing or outside the caller's scope (convention_not_found)")
def revise_convention(body, convention_id):
    """A new version, with the reason; the earlier ones are kept."""
    return conventions.present_one(conventions.revise_convention(current_actor(), convention_id, **body))


@blp.route("/conventions/<int:convention_id>/versions")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ConventionVersionSchema))
@blp.alt_response(404, description="No such convention (convention_not_found)")
def list_convention_versions(args, convention_id):
    """Every version, the first first, each with its reason."""
    return paginate(conventions.versions(current_actor(), convention_id), args, conventions.present)
