from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDate, LocalDateTime, Number, Text
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from models.activity import CATEGORIES, ActivityStatus, SignupStatus
from models.user import POLITICAL_STATUSES
from services import activities
from services.authz import require_staff

blp = Blueprint("activities", __name__, url_prefix="/api/v1", description="Activities and sign-ups")


class LocationSchema(Schema):
    address = Text(allow_none=True, load_default=None, validate=validate.Length(max=255))
    lat = Number(required=True, validate=validate.Range(-90, 90))
    lng = Number(required=True, validate=validate.Range(-180, 180))
    radius_m = Integer(load_default=200, validate=validate.Range(10, 10000),
                              metadata={"description": "How far from (lat, lng) a check-in scan is accepted"})


class EligibilitySchema(Schema):
    political_status = fields.List(fields.String(validate=validate.OneOf(POLITICAL_STATUSES)),
                                   validate=validate.Length(min=1, max=len(POLITICAL_STATUSES)),
                                   metadata={"description": "The member's political status is one of these"})
    team_id = Id(metadata={"description": "The member is an active member of this team"})
    unit_id = Id(metadata={"description": "The member's unit is this one"})


class OrganizerSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(("community", "unit")))
    id = Integer(required=True)
    name = fields.String(required=True, allow_none=True)


class ActivitySchema(Schema):
    id = Integer(dump_only=True)
    community_id = Id(required=True)
    unit_id = Id(allow_none=True, load_default=None,
                 metadata={"description": "The unit organising it (its admins; the unit must have an approved unit "
                                          "report in the community); null: the community"})
    organizer = fields.Nested(OrganizerSchema, dump_only=True, required=True)
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    description = Text(multiline=True, allow_none=True, load_default=None, validate=validate.Length(max=5000))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    capacity = Integer(required=True, validate=validate.Range(1, 100000))
    location = fields.Nested(LocationSchema, required=True)
    requires_signup = fields.Boolean(load_default=True)
    signup_opens_at = LocalDateTime(allow_none=True, load_default=None,
                                    metadata={"description": "Sign-ups open then; null: on publication"})
    signup_closes_at = LocalDateTime(allow_none=True, load_default=None,
                                     metadata={"description": "Sign-ups close then (at most `ends_at`); null: at "
                                                              "the end"})
    eligibility = fields.Nested(EligibilitySchema, allow_none=True, load_default=None,
                                metadata={"description": "Who may sign up (every criterion must hold); null: anyone"})
    status = fields.String(dump_only=True, validate=validate.OneOf(list(ActivityStatus)))
    signed_up = Integer(dump_only=True, metadata={"description": "Confirmed sign-ups"})
    waitlisted = Integer(dump_only=True)
    my_signup = fields.String(dump_only=True, allow_none=True,
                              metadata={"description": "The caller's sign-up: confirmed, waitlisted or null"})
    can_sign_up = fields.Boolean(dump_only=True, required=True)
    cannot_reason = fields.String(dump_only=True, allow_none=True, required=True, metadata={
        "description": "The code a sign-up by the caller would answer (not_eligible, signup_closed, "
                       "already_signed_up, activity_ended, invalid_state), or null"})
    created_at = LocalDateTime(dump_only=True)


class ActivityChangeSchema(ActivitySchema):
    """Any subset of an activity's fields except its community and organiser."""

    class Meta:
        exclude = ("community_id", "unit_id")


class ActivityListArgs(PageArgs):
    community_id = Id()
    unit_id = Id(metadata={"description": "Activities this unit organises"})
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    status = fields.String(validate=validate.OneOf(list(ActivityStatus)))
    date_from = LocalDate(data_key="from", metadata={"description": "Local date, inclusive"})
    date_to = LocalDate(data_key="to", metadata={"description": "Local date, inclusive"})


class SignupSchema(Schema):
    id = Integer(dump_only=True)
    activity_id = Integer(dump_only=True)
    member_id = Integer(dump_only=True)
    status = fields.String(dump_only=True, validate=validate.OneOf(list(SignupStatus)))
    team_id = Integer(dump_only=True, allow_none=True,
                      metadata={"description": "The team whose leader signed the member up, if any"})
    created_at = LocalDateTime(dump_only=True)
    cancelled_at = LocalDateTime(dump_only=True, allow_none=True)


class SignupListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(list(SignupStatus)))


@blp.route("/activities", methods=["POST"])
@jwt_required()
@allowed(require_staff)
@blp.arguments(ActivitySchema)
@blp.response(201, ActivitySchema)
@blp.alt_response(403, description="Not staff (staff_only), or the unit has no approved report in that community "
                                   "(unit_not_reported)")
@blp.alt_response(404, description="Community outside the caller's scope (region_not_found), or a unit not the "
                                   "caller's (unit_not_found)")
def create_activity(body):
    """Publish an activity (staff of that community or above), or one a unit organises (`unit_id`: its admins, in a
    community where it reported); the end must come after the start, and `signup_opens_at` < `signup_closes_at` <=
    `ends_at`."""
    actor = current_actor()
    return activities.present([activities.create_activity(actor, **body)], actor)[0]


@blp.route("/activities")
@jwt_required()
@blp.arguments(ActivityListArgs, location="query")
@blp.response(200, page_of(ActivitySchema))
def list_activities(args):
    """Activities by start time, with sign-up counts, organiser and whether the caller may sign up; `from`/`to` are
    local dates."""
    actor = current_actor()
    # A community's activities from a date on (the mini-program's "near me") are few: counted with their page.
    few = args.get("community_id") is not None and args.get("date_from") is not None
    return paginate(activities.list_activities(**filters(args)), args,
                    lambda rows: activities.present_rows(rows, actor), few=few,
                    columns=activities.EXTRAS_COLUMNS, parameters=activities.extras_parameters(actor))


@blp.route("/activities/<int:activity_id>")
@jwt_required()
@blp.response(200, ActivitySchema)
@blp.alt_response(404, description="No such activity (activity_not_found)")
def get_activity(activity_id):
    """An activity with its `signed_up` and `waitlisted` counts, organiser, and whether the caller may sign up."""
    actor = current_actor()
    return activities.present([activities.access_activity(actor, activity_id, for_write=False)], actor)[0]


@blp.route("/activities/<int:activity_id>", methods=["PATCH"])
@jwt_required()
@allowed(require_staff)
@blp.arguments(ActivityChangeSchema(partial=True))
@blp.response(200, ActivitySchema)
@blp.alt_response(409, description="Cancelled (invalid_state)")
def update_activity(changes, activity_id):
    """Edit an activity (staff of its community or above, or the organising unit's admins); raising the capacity
    confirms waitlisted members; `eligibility` replaces the criteria (null: anyone)."""
    actor = current_actor()
    return activities.present([activities.update_activity(actor, activity_id, **changes)], actor)[0]


@blp.route("/activities/<int:activity_id>/cancel", methods=["POST"])
@jwt_required()
@allowed(require_staff)
@blp.response(200, ActivitySchema)
@blp.alt_response(409, description="Already cancelled (invalid_state)")
def cancel_activity(activity_id):
    """Cancel an activity (its community's staff or the organising unit's admins); everyone signed up is notified."""
    actor = current_actor()
    return activities.present([activities.cancel_activity(actor, activity_id)], actor)[0]


@blp.route("/activities/<int:activity_id>/signups", methods=["POST"])
@jwt_required()
@blp.response(201, SignupSchema)
@blp.alt_response(403, description="The caller does not meet the eligibility criteria (not_eligible)")
@blp.alt_response(409, description="Already signed up (already_signed_up), cancelled (invalid_state), over "
                                   "(activity_ended) or outside the sign-up window (signup_closed, with "
                                   "`details.opens_at`/`closes_at`)")
def sign_up_for_activity(activity_id):
    """Sign up: `confirmed` while seats remain, else `waitlisted`."""
    return activities.sign_up(current_actor(), activity_id)


@blp.route("/activities/<int:activity_id>/signups/me", methods=["DELETE"])
@jwt_required()
@blp.response(204)
@blp.alt_response(404, description="Not signed up (signup_not_found)")
@blp.alt_response(409, description="The activity is over (activity_ended)")
def withdraw_signup(activity_id):
    """Withdraw; the longest-waiting waitlisted member takes the freed seat."""
    activities.cancel_signup(current_actor(), activity_id)


@blp.route("/activities/<int:activity_id>/signups")
@jwt_required()
@allowed(require_staff)
@blp.arguments(SignupListArgs, location="query")
@blp.response(200, page_of(SignupSchema))
def list_signups(args, activity_id):
    """Sign-ups in order of arrival (staff of the activity's community or above, or the organising unit's admins)."""
    return paginate(activities.list_signups(current_actor(), activity_id, **filters(args)), args)
