from flask_jwt_extended import jwt_required

from api.blueprint import Blueprint
from api.pagination import filters, page_of, paginate
from api.posts import ShiftRangeArgs, ShiftSchema
from api.security import current_actor
from services import shifts

blp = Blueprint("shifts", __name__, url_prefix="/api/v1", description="Shifts and stand-ins")


@blp.route("/me/shifts")
@jwt_required()
@blp.arguments(ShiftRangeArgs, location="query")
@blp.response(200, page_of(ShiftSchema))
def my_shifts(args):
    """The caller's shifts starting on local days ``from`` .. ``to``, with ``my_status``."""
    actor = current_actor()
    return paginate(shifts.member_shifts(actor, **filters(args)), args,
                    transform=lambda rows: shifts.with_assignees(actor, rows))


@blp.route("/shifts/<int:shift_id>/signups", methods=["POST"])
@jwt_required()
@blp.response(201, ShiftSchema)
@blp.alt_response(409, description="No free seat (shift_full), overlaps another shift (overlap), "
                                   "already on it (already_signed_up), or over (shift_over)")
def sign_up_for_shift(shift_id):
    """Take a free seat on a shift; never more assignees than seats, also under concurrent requests."""
    actor = current_actor()
    return shifts.with_assignees(actor, [shifts.sign_up(actor, shift_id)])[0]


@blp.route("/shifts/<int:shift_id>/signups/me", methods=["DELETE"])
@jwt_required()
@blp.response(204)
@blp.alt_response(404, description="Not on the shift (signup_not_found)")
@blp.alt_response(409, description="The shift has started (shift_started) or the assignment is closed")
def decline_shift(shift_id):
    """Leave a shift before it starts (also declines a scheduler assignment); the seat becomes free."""
    shifts.decline(current_actor(), shift_id)


@blp.route("/shifts/<int:shift_id>/standin", methods=["POST"])
@jwt_required()
@blp.response(200, ShiftSchema)
@blp.alt_response(404, description="Not on the shift (signup_not_found)")
def request_standin(shift_id):
    """An assignee asks for a stand-in; the post's pool members are notified."""
    actor = current_actor()
    return shifts.with_assignees(actor, [shifts.request_standin(actor, shift_id)])[0]


@blp.route("/shifts/<int:shift_id>/standin/accept", methods=["POST"])
@jwt_required()
@blp.response(200, ShiftSchema)
@blp.alt_response(403, description="Not in the post's pool (not_in_pool)")
@blp.alt_response(409, description="No open stand-in request (no_standin_request), overlap, already_signed_up")
def accept_standin(shift_id):
    """The first pool member to accept takes over the seat of the assignee who asked."""
    actor = current_actor()
    return shifts.with_assignees(actor, [shifts.accept_standin(actor, shift_id)])[0]
