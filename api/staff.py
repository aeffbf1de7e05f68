from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Pattern, Text
from api.security import allowed, current_actor
from api.users import UserSchema
from models.user import CREATABLE_ROLES
from services import staff
from services.authz import require_region_staff

blp = Blueprint("staff", __name__, url_prefix="/api/v1/staff", description="Staff accounts")


class StaffCreateSchema(Schema):
    username = fields.String(required=True, validate=Pattern(r"^[A-Za-z0-9_.-]{3,64}$"))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=8, max=256))
    name = Text(required=True, validate=validate.Length(min=1, max=50))
    role = fields.String(required=True, validate=validate.OneOf(CREATABLE_ROLES))
    scope_id = Id(required=True)


@blp.route("", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(StaffCreateSchema)
@blp.response(201, UserSchema)
@blp.alt_response(409, description="The username is taken (username_taken)")
def create_staff(body):
    """A staff account scoped to a region of the role's kind, to a unit, or (`department_admin`) to a department,
    within the caller's region."""
    return staff.create_staff(current_actor(), **body)
