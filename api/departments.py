from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, Text
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from services import departments
from services.authz import require_any_staff, require_region_staff

blp = Blueprint("departments", __name__, url_prefix="/api/v1",
                description="Departments of streets and districts (职能部门), which answer escalated appeals")


class DepartmentSchema(Schema):
    id = Integer(dump_only=True, required=True)
    region_id = Id(required=True, metadata={"description": "A street or a district"})
    region_name = fields.String(dump_only=True, required=True)
    name = Text(required=True, validate=validate.Length(min=1, max=100))


class DepartmentListArgs(PageArgs):
    region_id = Id()
    community_id = Id(metadata={"description": "The departments this community may escalate to (its street's and "
                                               "its district's)"})


@blp.route("/departments", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(DepartmentSchema)
@blp.response(201, DepartmentSchema)
@blp.alt_response(409, description="The region has a department of that name (department_name_taken)")
def create_department(body):
    """Staff of a street or district (or above) add one of its departments."""
    actor = current_actor()
    return departments.present([departments.create_department(actor, **body)])[0]


@blp.route("/departments")
@jwt_required()
@allowed(require_any_staff)
@blp.arguments(DepartmentListArgs, location="query")
@blp.response(200, page_of(DepartmentSchema))
def list_departments(args):
    """Departments by region, or those a community may escalate to (any staff)."""
    actor = current_actor()
    return paginate(departments.list_departments(actor, **filters(args)), args, departments.present)


@blp.route("/departments/<int:department_id>")
@jwt_required()
@allowed(require_any_staff)
@blp.response(200, DepartmentSchema)
def get_department(department_id):
    actor = current_actor()
    return departments.present([departments.access_department(actor, department_id)])[0]
