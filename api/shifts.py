from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDateTime
from api.pagination import PageArgs, filters, page_of, paginate
from api.posts import ShiftRangeArgs, ShiftSchema
from api.security import current_actor
from models.post import SwapStatus
from services import shifts

blp = Blueprint("shifts", __name__, url_prefix="/api/v1", description="Shifts and stand-ins")


@blp.route("/me/shifts")
@jwt_required()
@blp.arguments(ShiftRangeArgs, location="query")
@blp.response(200, page_of(ShiftSchema))
def my_shifts(args):
    """The caller's shifts starting on local days ``from`` .. ``to``, with ``my_status``."""
    actor = current_actor()
    # A member's own shifts are few: counted with their page.
    return paginate(shifts.member_shifts(actor, **filters(args)), args,
                    transform=lambda rows: shifts.with_assignees(actor, rows), few=True)


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


class SwapOfferSchema(Schema):
    member_id = Id(required=True, metadata={"description": "Another member of the post's pool"})


class ShiftSwapSchema(Schema):
    id = Integer(required=True)
    shift_id = Integer(required=True)
    from_member_id = Integer(required=True)
    to_member_id = Integer(required=True)
    status = fields.String(required=True, metadata={"enum": list(SwapStatus)})
    created_at = LocalDateTime(required=True)
    decided_at = LocalDateTime(allow_none=True)


@blp.route("/shifts/<int:shift_id>/swap", methods=["POST"])
@jwt_required()
@blp.arguments(SwapOfferSchema)
@blp.response(201, ShiftSwapSchema)
@blp.alt_response(403, description="The member is not in the post's pool (not_in_pool)")
@blp.alt_response(404, description="Not on the shift (signup_not_found)")
@blp.alt_response(409, description="Already on the shift (already_signed_up), an offer pending (swap_pending), "
                                   "the shift started (shift_started), or the seat is being served")
def offer_shift_swap(body, shift_id):
    """Offer one's seat on a coming shift to another member of the post's pool; they are told and may accept."""
    return shifts.offer_swap(current_actor(), shift_id, **body)


@blp.route("/shift-swaps/<int:swap_id>/accept", methods=["POST"])
@jwt_required()
@blp.response(200, ShiftSchema)
@blp.alt_response(404, description="No such offer to the caller (swap_not_found)")
@blp.alt_response(409, description="The offer or the seat moved on (invalid_state), overlap, already_signed_up, "
                                   "shift_started")
def accept_shift_swap(swap_id):
    """Take over the seat offered: the offerer's assignment becomes `replaced` and the caller's is added, at once."""
    actor = current_actor()
    return shifts.with_assignees(actor, [shifts.accept_swap(actor, swap_id)])[0]


@blp.route("/shift-swaps/<int:swap_id>/decline", methods=["POST"])
@jwt_required()
@blp.response(200, ShiftSwapSchema)
@blp.alt_response(404, description="No such offer to the caller (swap_not_found)")
@blp.alt_response(409, description="No longer pending (invalid_state)")
def decline_shift_swap(swap_id):
    """Decline an offer; the offerer keeps the seat and is told."""
    return shifts.close_swap(current_actor(), swap_id, by_offerer=False)


@blp.route("/shift-swaps/<int:swap_id>/withdraw", methods=["POST"])
@jwt_required()
@blp.response(200, ShiftSwapSchema)
@blp.alt_response(404, description="No such offer by the caller (swap_not_found)")
@blp.alt_response(409, description="No longer pending (invalid_state)")
def withdraw_shift_swap(swap_id):
    """Withdraw one's own pending offer; the member offered is told."""
    return shifts.close_swap(current_actor(), swap_id, by_offerer=True)


@blp.route("/me/shift-swaps")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(ShiftSwapSchema))
def my_shift_swaps(args):
    """Swaps the caller offered or was offered, newest first."""
    return paginate(shifts.member_swaps(current_actor()), args)
