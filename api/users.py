"""How a user is shown: the schemas shared by /auth, /me and /staff."""

from marshmallow import Schema, fields, validate
from marshmallow.utils import get_value

from api.fields import Hours, Integer
from models.user import POLITICAL_STATUSES, ROLES
from services import pii


class RoleSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(list(ROLES)))
    scope_type = fields.String(allow_none=True)
    scope_id = Integer(allow_none=True)


class UserSchema(Schema):
    """A user as anyone may see it: phone and ID number only masked."""

    id = Integer(required=True)
    volunteer_number = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    username = fields.String(allow_none=True)
    phone_masked = fields.Function(lambda user: pii.mask_phone(get_value(user, "phone")), allow_none=True)
    id_number_masked = fields.String(allow_none=True)
    political_status = fields.String(validate=validate.OneOf(POLITICAL_STATUSES))
    in_service = fields.Boolean()
    unit_id = Integer(allow_none=True)
    roles = fields.List(fields.Nested(RoleSchema))


class MeSchema(UserSchema):
    moderation = fields.String(allow_none=True, metadata={
        "description": "review: the name waits for staff and other members see none"})
    phone_verified = fields.Boolean(metadata={"description": "The phone is the one WeChat verified (POST /me/phone)"})
    community_id = Integer(allow_none=True)
    approved_hours = Hours()
    star_level = Integer(validate=validate.Range(0, 5))
    points = Integer()
