from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.downloads import BINARY, XLSX_MIMETYPE, send_download
from api.fields import Hours, Id, Integer, LocalDateTime, Number, Year
from api.pagination import PageArgs, page_of
from api.security import allowed, current_actor
from services import stats
from services.authz import require_region_staff
from services.exports import file_chunks

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
    teams = Integer(required=True, metadata={
        "description": "Active volunteer teams owned by the region's communities or their units, now"})
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
    """Members and units reported, activities, approved hours, active volunteers, the no-show rate, attendances
    (人次), active units, hours by category and appeals received, for the region and each child region, in one local
    calendar year, live: read from rollups every approval, correction, report decision, settled shift, check-out,
    appeal and change of a member's unit keeps up to date."""
    return stats.overview(current_actor(), **args)


class MemberHoursSchema(Schema):
    member_id = Integer(required=True)
    name = fields.String(allow_none=True)
    volunteer_number = fields.String(allow_none=True)
    phone_masked = fields.String(allow_none=True, metadata={"description": "e.g. 138****5678"})
    unit_name = fields.String(allow_none=True, metadata={"description": "The member's unit now"})
    hours = Hours(required=True, metadata={"description": "Approved hours of records started in the year there"})
    records = Integer(required=True, metadata={"description": "Approved records of the year there"})


class MemberHoursPageSchema(page_of(MemberHoursSchema)):
    region_id = Integer(required=True)
    year = Integer(required=True)


class MemberHoursArgs(PageArgs):
    region_id = Id(metadata={"description": "A community or street (or district); default: the caller's region, "
                                            "if it has exactly one"})
    year = Year(metadata={"description": "Default: this year"})


class MemberHoursExportArgs(Schema):
    region_id = Id(metadata={"description": "Default: the caller's region, if it has exactly one"})
    year = Year(metadata={"description": "Default: this year"})
    format = fields.String(load_default="xlsx", validate=validate.OneOf(("xlsx",)))


@blp.route("/stats/members")
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(MemberHoursArgs, location="query")
@blp.response(200, MemberHoursPageSchema)
@blp.alt_response(403, description="Not region staff")
@blp.alt_response(404, description="Region unknown or outside the caller's scope")
def member_hours(args):
    """Who served most: the members with approved hours in the region's communities in the local year, most hours
    first, paginated (for recognition such as 回天好人); phones masked."""
    return stats.member_hours(current_actor(), **args)


@blp.route("/stats/members/export")
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(MemberHoursExportArgs, location="query")
@blp.response(200, BINARY, content_type=XLSX_MIMETYPE, description="An XLSX workbook of the whole list, streamed")
@blp.alt_response(403, description="Not region staff")
@blp.alt_response(404, description="Region unknown or outside the caller's scope")
def export_member_hours(args):
    """The same list, every member, as XLSX: rank, volunteer number, name, masked phone, unit, hours, records."""
    args.pop("format")
    path, filename = stats.write_member_hours_xlsx(current_actor(), **args)
    return send_download(file_chunks(path), XLSX_MIMETYPE, filename)
