from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.downloads import BINARY, XLSX_MIMETYPE, send_download
from api.fields import Hours, Id, Integer, Text, Year
from api.pagination import PageArgs, filters, page_of, paginate
from api.reports import FeedbackSchema
from api.security import allowed, current_actor
from models.region import UNIT_KINDS
from services import regions, reports, unit_report
from services.authz import access_unit, require_region_staff, require_staff

blp = Blueprint("units", __name__, url_prefix="/api/v1/units", description="Work units (单位)")


class UnitSchema(Schema):
    id = Integer(dump_only=True)
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(UNIT_KINDS))
    community_id = Id(required=True)


class UnitListArgs(PageArgs):
    q = Text(validate=validate.Length(max=100))
    community_id = Id()


class UnitMemberSchema(Schema):
    member_id = Integer(required=True)
    name = fields.String(allow_none=True)
    report_status = fields.String(allow_none=True)
    community_id = Integer(allow_none=True)
    volunteer_number = fields.String(allow_none=True)
    approved_hours_this_year = Hours()
    points_this_year = Integer(metadata={"description": "Points earned in the year"})
    wishes_completed_this_year = Integer()
    feedback = fields.Nested(FeedbackSchema, allow_none=True,
                             metadata={"description": "The community's feedback for the year, if given"})
    year = Integer()


class UnitMembersArgs(PageArgs):
    year = Year()


class UnitMembersExportArgs(Schema):
    year = Year(metadata={"description": "Default: this year"})
    format = fields.String(load_default="xlsx", validate=validate.OneOf(["xlsx"]))


@blp.route("", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(UnitSchema)
@blp.response(201, UnitSchema)
def create_unit(body):
    return regions.create_unit(current_actor(), **body)


@blp.route("")
@jwt_required()
@blp.arguments(UnitListArgs, location="query")
@blp.response(200, page_of(UnitSchema))
def list_units(args):
    """Search units by name, for members picking their unit."""
    return paginate(regions.search_units(**filters(args)), args)


@blp.route("/<int:unit_id>")
@jwt_required()
@blp.response(200, UnitSchema)
def get_unit(unit_id):
    return access_unit(current_actor(), unit_id, for_write=False)


@blp.route("/<int:unit_id>/members")
@jwt_required()
@allowed(require_staff)
@blp.arguments(UnitMembersArgs, location="query")
@blp.response(200, page_of(UnitMemberSchema))
def unit_members(args, unit_id):
    """The unit's members: where they reported, their hours and points this year, and the community's feedback."""
    query, year = reports.unit_members(current_actor(), unit_id, **filters(args))
    return paginate(query, args, lambda page: reports.unit_member_rows(page, year))


@blp.route("/<int:unit_id>/members/export")
@jwt_required()
@allowed(require_staff)
@blp.arguments(UnitMembersExportArgs, location="query")
@blp.response(200, BINARY, content_type=XLSX_MIMETYPE,
              description="An XLSX workbook: one row per member with the year's figures and feedback")
def export_unit_members(args, unit_id):
    """The unit's yearly report on its members, as the party secretary files it (unit admin, or above)."""
    handle, filename = unit_report.export_members_xlsx(current_actor(), unit_id, year=args.get("year"))
    return send_download(handle, XLSX_MIMETYPE, filename)
