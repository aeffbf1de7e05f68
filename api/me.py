from datetime import date

from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDate, Text
from api.security import allowed, current_actor
from api.users import MeSchema
from models.user import POLITICAL_STATUSES
from services import account_closing, members
from services.authz import require_member

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The signed-in user")


class ProfileChangeSchema(Schema):
    name = Text(validate=validate.Length(min=1, max=50))
    phone = fields.String(allow_none=True, validate=validate.Length(max=20))
    id_number = fields.String(allow_none=True, validate=validate.Length(max=32), load_only=True)
    political_status = fields.String(validate=validate.OneOf(POLITICAL_STATUSES))
    in_service = fields.Boolean()
    unit_id = Id(allow_none=True)


class PhoneCodeSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=256),
                         metadata={"description": "The code of the button's getPhoneNumber event"})


class UnavailabilitySchema(Schema):
    weekdays = fields.List(Integer(validate=validate.Range(1, 7)), load_default=list,
                           validate=validate.Length(max=7))
    dates = fields.List(LocalDate(), load_default=list, validate=validate.Length(max=366))


@blp.route("")
@jwt_required()
@blp.response(200, MeSchema)
def get_me():
    """The caller's profile, approved hours, star level (100/300/600/1000/1500 h) and points."""
    return members.profile(current_actor())


@blp.route("", methods=["PATCH"])
@jwt_required()
@blp.arguments(ProfileChangeSchema)
@blp.response(200, MeSchema)
@blp.alt_response(409, description="The ID number belongs to another member (id_number_taken)")
def patch_me(changes):
    """Change the profile. Phone and ID number are validated; neither is ever returned whole."""
    actor = current_actor()
    members.update_profile(actor.user, **changes)
    return members.profile(actor)


@blp.route("", methods=["DELETE"])
@jwt_required()
@allowed(require_member)
@blp.response(204)
@blp.alt_response(409, description="The account has a staff role (has_staff_role)")
def delete_me():
    """Close the caller's member account: personal data erased, open commitments released, every token refused;
    approved hours and certificates stay valid under the volunteer number."""
    account_closing.close_account(current_actor())


@blp.route("/phone", methods=["POST"])
@jwt_required()
@blp.arguments(PhoneCodeSchema)
@blp.response(200, MeSchema)
@blp.alt_response(422, description="WeChat refused the code (phone_code_invalid), or the number is not a mainland "
                                   "one (phone_not_mainland)")
@blp.alt_response(503, description="WeChat unreachable (wechat_unavailable) or not configured (wechat_not_configured)")
def verify_my_phone(body):
    """Take the phone WeChat verified (getuserphonenumber) as the caller's: `phone_verified` becomes true."""
    actor = current_actor()
    members.verify_phone(actor.user, body["code"])
    return members.profile(actor)


class UnavailabilityAnswerSchema(UnavailabilitySchema):
    standin_requested = fields.List(Integer(), dump_only=True, metadata={
        "description": "Coming shifts of the caller on those days, whose seats became stand-in requests to the pool"})


@blp.route("/unavailability", methods=["PUT"])
@jwt_required()
@blp.arguments(UnavailabilitySchema)
@blp.response(200, UnavailabilityAnswerSchema)
def put_unavailability(body):
    """Weekdays (1 = Monday) and dates on which the scheduler must not put the caller on a shift. Seats the caller
    already holds on coming shifts touching them are released: each becomes a stand-in request the post's pool is
    told of (the caller keeps the seat until someone accepts)."""
    user = current_actor().user
    released = members.set_unavailability(user, **body)
    return {"weekdays": user.unavailable_weekdays, "dates": [date.fromisoformat(d) for d in user.unavailable_dates],
            "standin_requested": released}
