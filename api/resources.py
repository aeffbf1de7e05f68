from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDateTime, Text
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from models.resource import RESOURCE_KINDS, RESOURCE_OWNER_TYPES, ResourceStatus
from services import resources
from services.authz import require_staff

blp = Blueprint("resources", __name__, url_prefix="/api/v1", description="The resource list (资源清单)")


class ResourceSchema(Schema):
    id = Integer(dump_only=True)
    owner_type = fields.String(required=True, validate=validate.OneOf(RESOURCE_OWNER_TYPES))
    owner_id = Id(required=True, metadata={"description": "The community's or the unit's id"})
    community_id = Integer(dump_only=True, metadata={"description": "Where it serves (a unit's community)"})
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(RESOURCE_KINDS))
    detail = Text(multiline=True, load_default=None, allow_none=True, validate=validate.Length(max=5000))
    status = fields.String(dump_only=True, validate=validate.OneOf(list(ResourceStatus)))
    created_at = LocalDateTime(dump_only=True)


class ResourceListArgs(PageArgs):
    community_id = Id()
    status = fields.String(validate=validate.OneOf(list(ResourceStatus)))
    owner_type = fields.String(validate=validate.OneOf(RESOURCE_OWNER_TYPES))
    kind = fields.String(validate=validate.OneOf(RESOURCE_KINDS))


@blp.route("/resources", methods=["POST"])
@jwt_required()
@allowed(require_staff)
@blp.arguments(ResourceSchema)
@blp.response(201, ResourceSchema)
def create_resource(body):
    """A community's staff, or a unit's admin, offer a venue, people, a service or funds."""
    return resources.create_resource(current_actor(), **body)


@blp.route("/resources")
@jwt_required()
@blp.arguments(ResourceListArgs, location="query")
@blp.response(200, page_of(ResourceSchema))
def list_resources(args):
    """Resources, newest first, by the community they serve, status, owner type and kind (any signed-in user)."""
    return paginate(resources.list_resources(**filters(args)), args)
