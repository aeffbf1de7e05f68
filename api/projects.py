from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDateTime, Text
from api.meetings import MeetingMentionSchema
from api.needs import NeedSchema
from api.pagination import PageArgs, filters, page_of, paginate
from api.resources import ResourceSchema
from api.security import allowed, current_actor
from models.project import ProjectStatus
from services import projects
from services.authz import require_region_staff, require_staff

blp = Blueprint("projects", __name__, url_prefix="/api/v1", description="The project list (项目清单)")


class ProjectSchema(Schema):
    id = Integer(dump_only=True)
    community_id = Id(required=True)
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    need_ids = fields.List(Id(), required=True, validate=validate.Length(min=1, max=100))
    resource_ids = fields.List(Id(), load_default=list, validate=validate.Length(max=100))
    needs = fields.List(fields.Nested(NeedSchema), dump_only=True)
    resources = fields.List(fields.Nested(ResourceSchema), dump_only=True)
    status = fields.String(dump_only=True, validate=validate.OneOf(list(ProjectStatus)))
    unit_id = Integer(dump_only=True, allow_none=True, metadata={"description": "The unit that claimed it"})
    claimed_at = LocalDateTime(dump_only=True, allow_none=True)
    approved_at = LocalDateTime(dump_only=True, allow_none=True)
    started_at = LocalDateTime(dump_only=True, allow_none=True)
    finished_at = LocalDateTime(dump_only=True, allow_none=True)
    created_at = LocalDateTime(dump_only=True)
    appeal_id = fields.Integer(dump_only=True, allow_none=True,
                               metadata={"description": "The appeal it was made from, if any"})
    decision_id = fields.Integer(dump_only=True, allow_none=True,
                                 metadata={"description": "The meeting decision its approval cited, if any"})


class ProjectDetailSchema(ProjectSchema):
    meetings = fields.List(fields.Nested(MeetingMentionSchema), dump_only=True,
                           metadata={"description": "The meetings with it on their agenda, and what they decided"})


class ProjectApproveSchema(Schema):
    decision_id = Id(metadata={"description": "The decision that chose it: of a held meeting of the project's "
                                              "community with the project or one of its needs on its agenda"})


class ProjectListArgs(PageArgs):
    community_id = Id()
    status = fields.String(validate=validate.OneOf(list(ProjectStatus)))
    unit_id = Id()


class ProjectClaimSchema(Schema):
    unit_id = Id(required=True)


@blp.route("/projects", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(ProjectSchema)
@blp.response(201, ProjectSchema)
def create_project(body):
    """Community staff propose a project matching needs with resources of the same community."""
    return projects.create_project(current_actor(), **body)


@blp.route("/projects")
@jwt_required()
@blp.arguments(ProjectListArgs, location="query")
@blp.response(200, page_of(ProjectSchema))
def list_projects(args):
    """Projects, newest first, by community, status and claiming unit (any signed-in user)."""
    return paginate(projects.list_projects(**filters(args)), args)


@blp.route("/projects/<int:project_id>")
@jwt_required()
@blp.response(200, ProjectDetailSchema)
def get_project(project_id):
    """A project, with the meetings and decisions about it."""
    return projects.present_detail(projects.access_project(current_actor(), project_id, for_write=False))


@blp.route("/projects/<int:project_id>/approve", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(ProjectApproveSchema)
@blp.response(200, ProjectSchema)
@blp.alt_response(409, description="Not proposed (invalid_state)")
def approve_project(body, project_id):
    """Community staff approve a proposed project; its needs become `matched`. The body may cite the meeting
    decision that chose it (`decision_id`); without a body it is approved as before."""
    return projects.advance_project(current_actor(), project_id, "approve", **body)


@blp.route("/projects/<int:project_id>/start", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.response(200, ProjectSchema)
@blp.alt_response(409, description="Not approved (invalid_state)")
def start_project(project_id):
    """Community staff start an approved project (`in_progress`)."""
    return projects.advance_project(current_actor(), project_id, "start")


@blp.route("/projects/<int:project_id>/finish", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.response(200, ProjectSchema)
@blp.alt_response(409, description="Not in progress (invalid_state)")
def finish_project(project_id):
    """Community staff finish a project in progress (`done`); its needs become `met`."""
    return projects.advance_project(current_actor(), project_id, "finish")


@blp.route("/projects/<int:project_id>/claim", methods=["POST"])
@jwt_required()
@allowed(require_staff)
@blp.arguments(ProjectClaimSchema)
@blp.response(200, ProjectSchema)
@blp.alt_response(409, description="Claimed by a unit already (already_claimed), or done (invalid_state)")
def claim_project(body, project_id):
    """A unit admin takes the project on for its unit."""
    return projects.claim_project(current_actor(), project_id, **body)
