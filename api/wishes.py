from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDate, LocalDateTime, Text
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from models.wish import WishStatus
from services import wishes
from services.authz import require_region_staff

blp = Blueprint("wishes", __name__, url_prefix="/api/v1", description="Wishes (微心愿)")


class ClaimerSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(("member", "unit", "team")))
    id = Integer(required=True)
    name = fields.String(required=True, allow_none=True)


class WishSchema(Schema):
    id = Integer(dump_only=True)
    community_id = Id(required=True)
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    description = Text(multiline=True, load_default=None, allow_none=True, validate=validate.Length(max=5000))
    beneficiary = Text(load_default=None, allow_none=True, validate=validate.Length(max=200),
                                metadata={"description": "How staff describe the beneficiary; never more"})
    deadline = LocalDate(load_default=None, allow_none=True)
    status = fields.String(dump_only=True, validate=validate.OneOf(list(WishStatus)))
    claimer_type = fields.String(dump_only=True, allow_none=True, metadata={"description": "member, unit or team"})
    claimer = fields.Nested(ClaimerSchema, dump_only=True, allow_none=True, metadata={
        "description": "Who claimed it: a team to everyone, a member or unit to staff and to the claimer"})
    claimer_team_id = Integer(dump_only=True, allow_none=True)
    claimer_member_id = Integer(dump_only=True, allow_none=True,
                                       metadata={"description": "Shown to staff and to the claimer only"})
    claimer_unit_id = Integer(dump_only=True, allow_none=True)
    claimer_name = fields.String(dump_only=True, allow_none=True,
                                 metadata={"description": "Shown to staff and to the claimer only"})
    claimed_by_me = fields.Boolean(dump_only=True)
    claimed_at = LocalDateTime(dump_only=True, allow_none=True)
    fulfil_note = fields.String(dump_only=True, allow_none=True)
    fulfilled_at = LocalDateTime(dump_only=True, allow_none=True)
    completed_at = LocalDateTime(dump_only=True, allow_none=True)
    cancelled_at = LocalDateTime(dump_only=True, allow_none=True)
    created_at = LocalDateTime(dump_only=True)
    appeal_id = fields.Integer(dump_only=True, allow_none=True,
                               metadata={"description": "The appeal it was made from, if any"})
    moderation = fields.String(dump_only=True, allow_none=True,
                               metadata={"description": "review: the fulfilment note waits for staff"})


class WishListArgs(PageArgs):
    community_id = Id()
    status = fields.String(validate=validate.OneOf(list(WishStatus)))


class ClaimSchema(Schema):
    unit_id = Id(load_default=None, allow_none=True,
                             metadata={"description": "Claim for this unit (its unit admin only)"})
    team_id = Id(load_default=None, allow_none=True,
                 metadata={"description": "Claim for this team (one of its leaders); not with unit_id"})


class FulfilSchema(Schema):
    note = Text(multiline=True, load_default=None, allow_none=True, validate=validate.Length(max=2000))


@blp.route("/wishes", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(WishSchema)
@blp.response(201, WishSchema)
def post_wish(body):
    """Community staff post a resident's wish (status `open`)."""
    actor = current_actor()
    return wishes.present_one(actor, wishes.post_wish(actor, **body))


@blp.route("/wishes")
@jwt_required()
@blp.arguments(WishListArgs, location="query")
@blp.response(200, page_of(WishSchema))
def list_wishes(args):
    """Wishes by community and status, newest first (any signed-in user)."""
    actor = current_actor()
    query = wishes.list_wishes(**filters(args))
    # A community's open wishes are few: counted with their page.
    few = args.get("community_id") is not None and args.get("status") == WishStatus.OPEN
    return paginate(query, args, lambda rows: wishes.present_rows(actor, rows), few=few, columns=wishes.PAGE_COLUMNS)


@blp.route("/wishes/<int:wish_id>")
@jwt_required()
@blp.response(200, WishSchema)
def get_wish(wish_id):
    actor = current_actor()
    return wishes.present_one(actor, wishes.access_wish(actor, wish_id, for_write=False))


@blp.route("/wishes/<int:wish_id>/claim", methods=["POST"])
@jwt_required()
@blp.arguments(ClaimSchema)
@blp.response(200, WishSchema)
@blp.alt_response(403, description="Not a member (members_only), not staff (staff_only), not a leader of the team "
                                   "(not_leader)")
@blp.alt_response(409, description="Claimed by someone else (already_claimed), or not open, or the team dissolved "
                                   "(invalid_state)")
def claim_wish(body, wish_id):
    """A member claims the wish; with `unit_id`, that unit's admin claims it for the unit; with `team_id`, one of
    the team's leaders claims it for the team (any current leader may then release or fulfil it). One claimer only."""
    actor = current_actor()
    return wishes.present_one(actor, wishes.claim(actor, wish_id, **body))


@blp.route("/wishes/<int:wish_id>/release", methods=["POST"])
@jwt_required()
@blp.response(200, WishSchema)
@blp.alt_response(409, description="Not claimed (invalid_state)")
def release_wish(wish_id):
    """The claimer gives the wish back; it is `open` again."""
    actor = current_actor()
    return wishes.present_one(actor, wishes.release(actor, wish_id))


@blp.route("/wishes/<int:wish_id>/fulfil", methods=["POST"])
@jwt_required()
@blp.arguments(FulfilSchema)
@blp.response(200, WishSchema)
@blp.alt_response(409, description="Not claimed (invalid_state)")
def fulfil_wish(body, wish_id):
    """The claimer reports the wish fulfilled, with a note."""
    actor = current_actor()
    return wishes.present_one(actor, wishes.fulfil(actor, wish_id, **body))


@blp.route("/wishes/<int:wish_id>/confirm", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.response(200, WishSchema)
@blp.alt_response(409, description="Not fulfilled (invalid_state)")
def confirm_wish(wish_id):
    """Community staff confirm a fulfilled wish: `completed`, 20 points and a notification to the claimer
    (for a unit's claim, to the unit admin who claimed it)."""
    actor = current_actor()
    return wishes.present_one(actor, wishes.confirm(actor, wish_id))


@blp.route("/wishes/<int:wish_id>/cancel", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.response(200, WishSchema)
@blp.alt_response(409, description="Already fulfilled, completed or cancelled (invalid_state)")
def cancel_wish(wish_id):
    """Community staff cancel an open or claimed wish."""
    actor = current_actor()
    return wishes.present_one(actor, wishes.cancel(actor, wish_id))
