from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Hours, Id, Integer, LocalDateTime, Text, Year
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from models.team import JoinPolicy, MembershipStatus, TeamAction, TeamRole, TeamStatus
from services import teams
from services.authz import require_member, require_staff

blp = Blueprint("teams", __name__, url_prefix="/api/v1", description="Volunteer teams (志愿服务队)")

OWNER_TYPES = ("community", "unit")


class LeaderSchema(Schema):
    member_id = Integer(required=True)
    name = fields.String(required=True, allow_none=True)


class TeamSchema(Schema):
    id = Integer(dump_only=True)
    owner_type = fields.String(required=True, validate=validate.OneOf(OWNER_TYPES))
    owner_id = Id(required=True, metadata={"description": "The community (a region id) or the unit"})
    owner_name = fields.String(dump_only=True, allow_none=True)
    community_id = Integer(dump_only=True, allow_none=True, metadata={
        "description": "The owner community, or the unit's (of its approved unit report, else where it sits)"})
    name = Text(required=True, validate=validate.Length(min=1, max=100),
                metadata={"description": "Unique per owner, trimmed and case-insensitive"})
    description = Text(multiline=True, load_default=None, allow_none=True, validate=validate.Length(max=2000))
    join_policy = fields.String(load_default=JoinPolicy.APPROVAL, validate=validate.OneOf(list(JoinPolicy)))
    status = fields.String(dump_only=True, validate=validate.OneOf(list(TeamStatus)))
    member_count = Integer(dump_only=True, metadata={"description": "Active members"})
    leaders = fields.List(fields.Nested(LeaderSchema), dump_only=True)
    approved_hours_this_year = Hours(dump_only=True, metadata={"description": "Approved hours carrying the team"})
    my_status = fields.String(dump_only=True, allow_none=True, validate=validate.OneOf(list(MembershipStatus)),
                              metadata={"description": "The caller's membership: active, pending or null"})
    my_role = fields.String(dump_only=True, allow_none=True, validate=validate.OneOf(list(TeamRole)))
    created_at = LocalDateTime(dump_only=True)
    dissolved_at = LocalDateTime(dump_only=True, allow_none=True)


class TeamChangeSchema(Schema):
    name = Text(validate=validate.Length(min=1, max=100))
    description = Text(multiline=True, allow_none=True, validate=validate.Length(max=2000))
    join_policy = fields.String(validate=validate.OneOf(list(JoinPolicy)),
                                metadata={"description": "Switching to open admits every pending request"})


class TeamListArgs(PageArgs):
    community_id = Id(metadata={"description": "The community's own teams and those of units in it"})
    unit_id = Id()
    owner_type = fields.String(validate=validate.OneOf(OWNER_TYPES))
    status = fields.String(validate=validate.OneOf(list(TeamStatus)))
    q = Text(validate=validate.Length(max=100), metadata={"description": "Part of the name"})


class MembershipSchema(Schema):
    team_id = Integer(dump_only=True)
    member_id = Integer(dump_only=True)
    status = fields.String(dump_only=True, validate=validate.OneOf(list(MembershipStatus)))
    role = fields.String(dump_only=True, validate=validate.OneOf(list(TeamRole)))
    joined_at = LocalDateTime(dump_only=True, allow_none=True)


class ApprovedSchema(Schema):
    member_id = Integer(dump_only=True)
    status = fields.String(dump_only=True, validate=validate.OneOf(list(MembershipStatus)))


class TeamMemberSchema(Schema):
    member_id = Integer(dump_only=True)
    name = fields.String(dump_only=True, allow_none=True)
    status = fields.String(dump_only=True, validate=validate.OneOf(list(MembershipStatus)))
    role = fields.String(dump_only=True, validate=validate.OneOf(list(TeamRole)))
    requested_at = LocalDateTime(dump_only=True)
    joined_at = LocalDateTime(dump_only=True, allow_none=True)
    approved_hours_this_year = Hours(dump_only=True, metadata={"description": "Approved hours with this team"})


class TeamMemberListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(list(MembershipStatus)))
    role = fields.String(validate=validate.OneOf(list(TeamRole)))


class TeamEventSchema(Schema):
    id = Integer(dump_only=True)
    action = fields.String(dump_only=True, validate=validate.OneOf(list(TeamAction)))
    actor_id = Integer(dump_only=True, allow_none=True)
    actor_name = fields.String(dump_only=True, allow_none=True)
    member_id = Integer(dump_only=True, allow_none=True, metadata={"description": "Whom it was about, if anyone"})
    member_name = fields.String(dump_only=True, allow_none=True)
    details = fields.Dict(dump_only=True, allow_none=True,
                          metadata={"description": "updated: {field: [before, after]}; leaders_set: {member_ids}"})
    at = LocalDateTime(dump_only=True)


class LeadersSchema(Schema):
    member_ids = fields.List(Id(), required=True, validate=validate.Length(max=100),
                             metadata={"description": "The new set of leaders, active members all"})


class TeamSignupSchema(Schema):
    team_id = Id(required=True)
    member_ids = fields.List(Id(), required=True, validate=validate.Length(min=1, max=500))
    all_or_nothing = fields.Boolean(load_default=False,
                                    metadata={"description": "All not skipped are confirmed, or nobody is"})


class SkippedMemberSchema(Schema):
    member_id = Integer(required=True)
    code = fields.String(required=True, metadata={"description": "already_signed_up or not_eligible"})


class TeamSignupResultSchema(Schema):
    confirmed = fields.List(Integer(), required=True)
    waitlisted = fields.List(Integer(), required=True)
    skipped = fields.List(fields.Nested(SkippedMemberSchema), required=True)


class TeamStatsArgs(Schema):
    year = Year(metadata={"description": "Local calendar year; default this year"})


class TeamStatsSchema(Schema):
    team_id = Integer(dump_only=True)
    year = Integer(dump_only=True)
    approved_hours = Hours(dump_only=True)
    attendances = Integer(dump_only=True, metadata={"description": "Checked-out attendances carrying the team"})
    active_members = Integer(dump_only=True, metadata={"description": "Distinct members of those attendances"})
    activities = Integer(dump_only=True, metadata={"description": "Distinct activities of those attendances"})


@blp.route("/teams", methods=["POST"])
@jwt_required()
@allowed(require_staff)
@blp.arguments(TeamSchema)
@blp.response(201, TeamSchema)
@blp.alt_response(404, description="The owner lies outside the caller's scope (region_not_found, unit_not_found)")
@blp.alt_response(409, description="The owner has a team of that name (team_name_taken)")
def create_team(body):
    """Found a team (staff of the community or above, or the unit's admins)."""
    actor = current_actor()
    return teams.present_one(actor, teams.create_team(actor, **body))


@blp.route("/teams")
@jwt_required()
@blp.arguments(TeamListArgs, location="query")
@blp.response(200, page_of(TeamSchema))
def list_teams(args):
    """Teams, newest first (any signed-in user)."""
    actor = current_actor()
    return paginate(teams.list_teams(**filters(args)), args, lambda page: teams.present(actor, page))


@blp.route("/me/teams")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(TeamSchema))
def list_my_teams(args):
    """The teams the caller belongs to or asked to join."""
    actor = current_actor()
    return paginate(teams.my_teams(actor), args, lambda page: teams.present(actor, page))


@blp.route("/teams/<int:team_id>")
@jwt_required()
@blp.response(200, TeamSchema)
@blp.alt_response(404, description="No such team (team_not_found)")
def get_team(team_id):
    """A team with its leaders, member count and this year's approved hours."""
    actor = current_actor()
    return teams.present_one(actor, teams.access_team(actor, team_id))


@blp.route("/teams/<int:team_id>", methods=["PATCH"])
@jwt_required()
@allowed(require_staff)
@blp.arguments(TeamChangeSchema)
@blp.response(200, TeamSchema)
@blp.alt_response(409, description="Name taken (team_name_taken), or dissolved (invalid_state)")
def update_team(changes, team_id):
    """Edit name, description or join policy (the owner's staff); switching to `open` admits pending requests."""
    actor = current_actor()
    return teams.present_one(actor, teams.update_team(actor, team_id, **changes))


@blp.route("/teams/<int:team_id>/dissolve", methods=["POST"])
@jwt_required()
@allowed(require_staff)
@blp.response(200, TeamSchema)
@blp.alt_response(409, description="Already dissolved (invalid_state)")
def dissolve_team(team_id):
    """Dissolve a team (the owner's staff): no new joins or sign-ups; its history stays."""
    actor = current_actor()
    return teams.present_one(actor, teams.dissolve_team(actor, team_id))


@blp.route("/teams/<int:team_id>/members", methods=["POST"])
@jwt_required()
@allowed(require_member)
@blp.response(201, MembershipSchema)
@blp.alt_response(409, description="Already a member or asking (already_member), or dissolved (invalid_state)")
def join_team(team_id):
    """Join: `active` at once in an open team, `pending` until a leader approves in one that approves."""
    return teams.join(current_actor(), team_id)


@blp.route("/teams/<int:team_id>/members")
@jwt_required()
@blp.arguments(TeamMemberListArgs, location="query")
@blp.response(200, page_of(TeamMemberSchema))
@blp.alt_response(403, description="Neither a leader nor the owner's staff (not_leader)")
def list_team_members(args, team_id):
    """Members and requests, leaders first (the team's leaders and the owner's staff)."""
    team, query = teams.list_members(current_actor(), team_id, **filters(args))
    return paginate(query, args, lambda page: teams.present_members(team, page))


@blp.route("/teams/<int:team_id>/history")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(TeamEventSchema))
@blp.alt_response(403, description="Neither a leader nor the owner's staff (not_leader)")
def team_history(args, team_id):
    """Who founded, edited, dissolved the team, joined, was approved, declined, removed, left or made leader, and
    when, newest first (the team's leaders and the owner's staff)."""
    return paginate(teams.history(current_actor(), team_id), args, teams.present_history)


@blp.route("/teams/<int:team_id>/members/<int:member_id>/approve", methods=["POST"])
@jwt_required()
@blp.response(200, ApprovedSchema)
@blp.alt_response(403, description="Neither a leader nor the owner's staff (not_leader)")
@blp.alt_response(404, description="No such team (team_not_found) or request (membership_not_found)")
@blp.alt_response(409, description="Not pending, or the team is dissolved (invalid_state)")
def approve_team_member(team_id, member_id):
    """Admit a pending request (a leader or the owner's staff)."""
    return teams.approve_member(current_actor(), team_id, member_id)


@blp.route("/teams/<int:team_id>/members/<int:member_id>/remove", methods=["POST"])
@jwt_required()
@blp.response(204)
@blp.alt_response(403, description="Neither a leader nor the owner's staff (not_leader); a leader removed by "
                                   "other than the owner's staff (owner_staff_only)")
@blp.alt_response(404, description="No such team (team_not_found) or member (membership_not_found)")
def remove_team_member(team_id, member_id):
    """Remove a member, or decline a pending request (a leader or the owner's staff; a leader: the owner's staff)."""
    teams.remove_member(current_actor(), team_id, member_id)


@blp.route("/teams/<int:team_id>/members/me", methods=["DELETE"])
@jwt_required()
@blp.response(204)
@blp.alt_response(404, description="No such team (team_not_found), or not in it (membership_not_found)")
def leave_team(team_id):
    """Leave the team, or withdraw one's request; a leader stops leading."""
    teams.leave(current_actor(), team_id)


@blp.route("/teams/<int:team_id>/leaders", methods=["PUT"])
@jwt_required()
@allowed(require_staff)
@blp.arguments(LeadersSchema)
@blp.response(200, TeamSchema)
@blp.alt_response(409, description="Dissolved (invalid_state)")
def set_team_leaders(body, team_id):
    """Replace the leaders (the owner's staff); each must be an active member (422 otherwise)."""
    actor = current_actor()
    return teams.present_one(actor, teams.set_leaders(actor, team_id, **body))


@blp.route("/teams/<int:team_id>/stats")
@jwt_required()
@blp.arguments(TeamStatsArgs, location="query")
@blp.response(200, TeamStatsSchema)
def team_stats(args, team_id):
    """A team's year (any signed-in user): approved hours, checked-out attendances, members and activities, of
    what carries the team."""
    actor = current_actor()
    return teams.team_stats(actor, team_id, **args)


@blp.route("/activities/<int:activity_id>/team-signups", methods=["POST"])
@jwt_required()
@blp.arguments(TeamSignupSchema)
@blp.response(201, TeamSignupResultSchema)
@blp.alt_response(403, description="Not a leader of that team (not_leader)")
@blp.alt_response(404, description="No such activity (activity_not_found)")
@blp.alt_response(409, description="Cancelled or dissolved (invalid_state), over (activity_ended), or too few "
                                   "seats for all_or_nothing (not_enough_seats, details.free_seats)")
def sign_up_team(body, activity_id):
    """A team leader signs members up: each as a single sign-up, all in one transaction; members already signed up
    are skipped; each member is told and may withdraw."""
    return teams.team_sign_up(current_actor(), activity_id, **body)
