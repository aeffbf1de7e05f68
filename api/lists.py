from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, LocalDateTime
from api.pagination import PageArgs, page_of, paginate
from api.security import current_actor
from models.lists import NEED_SOURCES, NEED_STATUSES, PROJECT_STATUSES, RESOURCE_KINDS, RESOURCE_OWNER_TYPES
from services import lists

blp = Blueprint("lists", __name__, url_prefix="/api/v1", description="Three lists (三个清单)")


class NeedSchema(Schema):
    id = fields.Integer(dump_only=True)
    community_id = Id(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    category = fields.String(required=True, validate=validate.Length(min=1, max=16),
                             metadata={"description": "Free text such as 养老 or 环境"})
    source = fields.String(required=True, validate=validate.OneOf(NEED_SOURCES),
                           metadata={"description": "survey, the 12345 hotline, visit, meeting or online"})
    status = fields.String(dump_only=True, metadata={"description": "open, matched (project approved), met (done)"})
    created_at = LocalDateTime(dump_only=True)


class ResourceSchema(Schema):
    id = fields.Integer(dump_only=True)
    owner_type = fields.String(required=True, validate=validate.OneOf(RESOURCE_OWNER_TYPES))
    owner_id = Id(required=True,
                              metadata={"description": "The community's or the unit's id"})
    community_id = fields.Integer(dump_only=True, metadata={"description": "Where it serves (a unit's community)"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(RESOURCE_KINDS))
    detail = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    status = fields.String(dump_only=True)
    created_at = LocalDateTime(dump_only=True)


class ProjectSchema(Schema):
    id = fields.Integer(dump_only=True)
    community_id = Id(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    need_ids = fields.List(Id(), required=True, load_only=True,
                           validate=validate.Length(min=1, max=100))
    resource_ids = fields.List(Id(), load_default=list, load_only=True,
                               validate=validate.Length(max=100))
    needs = fields.List(fields.Nested(NeedSchema), dump_only=True)
    resources = fields.List(fields.Nested(ResourceSchema), dump_only=True)
    status = fields.String(dump_only=True)
    unit_id = fields.Integer(dump_only=True, allow_none=True, metadata={"description": "The unit that claimed it"})
    claimed_at = LocalDateTime(dump_only=True, allow_none=True)
    approved_at = LocalDateTime(dump_only=True, allow_none=True)
    started_at = LocalDateTime(dump_only=True, allow_none=True)
    finished_at = LocalDateTime(dump_only=True, allow_none=True)
    created_at = LocalDateTime(dump_only=True)


class ListArgs(PageArgs):
    community_id = Id()


class NeedListArgs(ListArgs):
    status = fields.String(validate=validate.OneOf(NEED_STATUSES))
    source = fields.String(validate=validate.OneOf(NEED_SOURCES))


class ResourceListArgs(ListArgs):
    status = fields.String(validate=validate.Length(max=16))
    owner_type = fields.String(validate=validate.OneOf(RESOURCE_OWNER_TYPES))
    kind = fields.String(validate=validate.OneOf(RESOURCE_KINDS))


class ProjectListArgs(ListArgs):
    status = fields.String(validate=validate.OneOf(PROJECT_STATUSES))
    unit_id = Id()


class ProjectClaimSchema(Schema):
    unit_id = Id(required=True)


@blp.route("/needs", methods=["POST"])
@jwt_required()
@blp.arguments(NeedSchema)
@blp.response(201, NeedSchema)
def create_need(body):
    """Community staff record a need (status `open`) and where it came from."""
    return lists.create_need(current_actor(), **body)


@blp.route("/needs")
@jwt_required()
@blp.arguments(NeedListArgs, location="query")
@blp.response(200, page_of(NeedSchema))
def list_needs(args):
    """Needs, newest first, by community, status and source (any signed-in user)."""
    return paginate(lists.list_needs(args.get("community_id"), args.get("status"), args.get("source")), args)


@blp.route("/resources", methods=["POST"])
@jwt_required()
@blp.arguments(ResourceSchema)
@blp.response(201, ResourceSchema)
def create_resource(body):
    """A community's staff, or a unit's admin, offer a venue, people, a service or funds."""
    return lists.create_resource(current_actor(), **body)


@blp.route("/resources")
@jwt_required()
@blp.arguments(ResourceListArgs, location="query")
@blp.response(200, page_of(ResourceSchema))
def list_resources(args):
    """Resources, newest first, by the community they serve, status, owner type and kind (any signed-in user)."""
    filters = {k: args.get(k) for k in ("community_id", "status", "owner_type", "kind")}
    return paginate(lists.list_resources(**filters), args)


@blp.route("/projects", methods=["POST"])
@jwt_required()
@blp.arguments(ProjectSchema)
@blp.response(201, ProjectSchema)
def create_project(body):
    """Community staff propose a project matching needs with resources of the same community."""
    return lists.create_project(current_actor(), **body)


@blp.route("/projects")
@jwt_required()
@blp.arguments(ProjectListArgs, location="query")
@blp.response(200, page_of(ProjectSchema))
def list_projects(args):
    """Projects, newest first, by community, status and claiming unit (any signed-in user)."""
    filters = {k: args.get(k) for k in ("community_id", "status", "unit_id")}
    return paginate(lists.list_projects(**filters), args)


@blp.route("/projects/<int:project_id>")
@jwt_required()
@blp.response(200, ProjectSchema)
def get_project(project_id):
    return lists.get_project(project_id)


@blp.route("/projects/<int:project_id>/approve", methods=["POST"])
@jwt_required()
@blp.response(200, ProjectSchema)
@blp.alt_response(409, description="Not proposed (invalid_state)")
def approve_project(project_id):
    """Community staff approve a proposed project; its needs become `matched`."""
    return lists.advance_project(current_actor(), project_id, "approve")


@blp.route("/projects/<int:project_id>/start", methods=["POST"])
@jwt_required()
@blp.response(200, ProjectSchema)
@blp.alt_response(409, description="Not approved (invalid_state)")
def start_project(project_id):
    """Community staff start an approved project (`in_progress`)."""
    return lists.advance_project(current_actor(), project_id, "start")


@blp.route("/projects/<int:project_id>/finish", methods=["POST"])
@jwt_required()
@blp.response(200, ProjectSchema)
@blp.alt_response(409, description="Not in progress (invalid_state)")
def finish_project(project_id):
    """Community staff finish a project in progress (`done`); its needs become `met`."""
    return lists.advance_project(current_actor(), project_id, "finish")


@blp.route("/projects/<int:project_id>/claim", methods=["POST"])
@jwt_required()
@blp.arguments(ProjectClaimSchema)
@blp.response(200, ProjectSchema)
@blp.alt_response(409, description="Claimed by a unit already (already_claimed), or done (invalid_state)")
def claim_project(body, project_id):
    """A unit admin takes the project on for its unit."""
    return lists.claim_project(current_actor(), project_id, body["unit_id"])
