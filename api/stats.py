from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.fields import Hours, Id, Integer, LocalDateTime, Number, Year
from api.security import allowed, current_actor
from services import stats
from services.authz import require_region_staff

blp = Blueprint("stats", __name__, url_prefix="/api/v1", description="Statistics")


class CategoryHoursSchema(Schema):
    civility = Hours(required=True)
    order = Hours(required=True)
    culture = Hours(required=True)
    health = Hours(required=True)
    environment = Hours(required=True)
    safety = Hours(required=True)
    other = Hours(required=True)


class FiguresSchema(Schema):
    region_id = Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    members_reported = Integer(required=True, metadata={"description": "Approved member reports"})
    units_reported = Integer(required=True, metadata={"description": "Approved unit reports"})
    activities = Integer(
        required=True, metadata={"description": "Activities starting in the year, not cancelled"})
    approved_hours = Hours(required=True, metadata={"description": "Approved hours of records started in the year"})
    active_volunteers = Integer(
        required=True, metadata={"description": "Distinct members with an approved record in the year"})
    no_show_rate = Number(
        required=True, metadata={"description": "No-shows ÷ settled assignments (attended or no-show) of shifts "
                                                "ending in the year; 0 when none; at most 4 decimal places"})
    attendances = Integer(required=True, metadata={
        "description": "人次: checked-out attendances at activities and shifts, of check-ins in the year"})
    units_active = Integer(required=True, metadata={
        "description": "Distinct units (a member's unit now) of members with an approved record in the year"})
    hours_by_category = fields.Nested(CategoryHoursSchema, required=True, metadata={
        "description": "Approved hours of the year by the record's category: the six themes and other"})
    appeals_received = Integer(required=True, metadata={"description": "Appeals submitted in the year"})


class OverviewSchema(FiguresSchema):
    year = Integer(required=True)
    computed_at = LocalDateTime(
        required=True, metadata={"description": "When these figures were read: they are always live"})
    children = fields.List(fields.Nested(FiguresSchema), required=True)


class OverviewArgs(Schema):
    region_id = Id(metadata={"description": "Default: the caller's region, if it has exactly one"})
    year = Year(metadata={"description": "Default: this year"})
    fresh = fields.Boolean(load_default=False, metadata={
        "description": "Accepted for clients of the snapshot days; every answer is live"})


@blp.route("/stats/overview")
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(OverviewArgs, location="query")
@blp.response(200, OverviewSchema)
@blp.alt_response(403, description="Not region staff")
@blp.alt_response(404, description="Region unknown or outside the caller's scope")
def overview(args):
    """Members and units reported, activities, approved hours, active volunteers and the no-show rate, for the
    region and each child region, in one local calendar year, live: read from rollups every approval, correction,
    report decision and settled shift keeps up to date."""
    return stats.overview(current_actor(), **args)
