from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDate, LocalDateTime, Text
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from models.governance import TaskStatus
from services import tasks
from services.authz import require_staff

blp = Blueprint("tasks", __name__, url_prefix="/api/v1",
                description="Tasks decided at meetings, each with an owner partner and a due date (事事有回应)")

TASK_FILTERS = (*TaskStatus, "overdue")


class TaskSchema(Schema):
    id = Integer(required=True)
    community_id = Integer(required=True)
    meeting_id = Integer(required=True)
    decision_id = Integer(required=True)
    decision_index = Integer(required=True, metadata={"description": "The decision's place in the minutes, 0-based"})
    title = fields.String(required=True)
    owner_partner_id = Integer(required=True)
    owner_name = fields.String(required=True, allow_none=True)
    due_date = LocalDate(required=True)
    status = fields.String(required=True, validate=validate.OneOf(list(TaskStatus)))
    overdue = fields.Boolean(required=True, metadata={"description": "Open after its due date ended (local)"})
    note = fields.String(required=True, allow_none=True)
    done_at = LocalDateTime(required=True, allow_none=True)


class TaskListArgs(PageArgs):
    community_id = Id()
    status = fields.String(validate=validate.OneOf(TASK_FILTERS),
                           metadata={"description": "open, done, or overdue (open and past its due date, local)"})
    owner_partner_id = Id()
    meeting_id = Id()


class TaskDoneSchema(Schema):
    note = Text(multiline=True, required=True, validate=validate.Length(min=1, max=2000),
                metadata={"description": "What was done (事事有回应)"})


@blp.route("/tasks")
@jwt_required()
@allowed(require_staff)
@blp.arguments(TaskListArgs, location="query")
@blp.response(200, page_of(TaskSchema))
def list_tasks(args):
    """Community staff: their communities' tasks; a unit's admins: those owned by their unit. Most urgent first."""
    return paginate(tasks.list_tasks(current_actor(), **filters(args)), args, tasks.present)


@blp.route("/tasks/<int:task_id>/done", methods=["POST"])
@jwt_required()
@allowed(require_staff)
@blp.arguments(TaskDoneSchema)
@blp.response(200, TaskSchema)
@blp.alt_response(404, description="Missing, or neither the caller's community's nor its unit's (task_not_found)")
@blp.alt_response(409, description="Done already (invalid_state)")
def complete_task(body, task_id):
    """The task is done, with a note; once."""
    return tasks.present_one(tasks.complete_task(current_actor(), task_id, **body))
