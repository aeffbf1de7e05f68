from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDateTime, Text, Year
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from models.report import REPORT_KINDS, ReportStatus
from services import reports
from services.authz import require_region_staff, require_staff

blp = Blueprint("reports", __name__, url_prefix="/api/v1/reports", description="Double reporting (双报到)")


class ReportSchema(Schema):
    id = Integer(dump_only=True)
    kind = fields.String(dump_only=True)
    status = fields.String(dump_only=True, validate=validate.OneOf(list(ReportStatus)))
    member_id = Integer(dump_only=True, allow_none=True)
    unit_id = Id(allow_none=True, load_default=None)
    community_id = Id(required=True)
    reason = fields.String(dump_only=True, allow_none=True)
    created_at = LocalDateTime(dump_only=True)
    decided_at = LocalDateTime(dump_only=True, allow_none=True)


class ReportListArgs(PageArgs):
    community_id = Id()
    status = fields.String(validate=validate.OneOf(list(ReportStatus)))
    kind = fields.String(validate=validate.OneOf(REPORT_KINDS))


class RejectSchema(Schema):
    reason = Text(multiline=True, load_default=None, allow_none=True, validate=validate.Length(max=500))


class FeedbackSchema(Schema):
    id = Integer(dump_only=True)
    report_id = Integer(dump_only=True)
    year = Year(required=True)
    rating = Integer(required=True, validate=validate.Range(1, 5))
    comment = Text(multiline=True, load_default=None, allow_none=True, validate=validate.Length(max=2000))
    created_at = LocalDateTime(dump_only=True)


@blp.route("", methods=["POST"])
@jwt_required()
@blp.arguments(ReportSchema)
@blp.response(201, ReportSchema)
@blp.alt_response(409, description="Already a pending or approved report (already_reported)")
def create_report(body):
    """A member reports to a community; with `unit_id`, that unit's admin reports the unit."""
    actor = current_actor()
    if body["unit_id"] is not None:
        return reports.report_unit(actor, **body)
    return reports.report_member(actor, community_id=body["community_id"])


@blp.route("")
@jwt_required()
@allowed(require_staff)
@blp.arguments(ReportListArgs, location="query")
@blp.response(200, page_of(ReportSchema))
def list_reports(args):
    """Reports within the caller's scope (staff only)."""
    return paginate(reports.list_reports(current_actor(), **filters(args)), args)


@blp.route("/<int:report_id>/approve", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.response(200, ReportSchema)
@blp.alt_response(409, description="Not pending (invalid_state)")
def approve_report(report_id):
    return reports.decide(current_actor(), report_id, approve=True)


@blp.route("/<int:report_id>/reject", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(RejectSchema)
@blp.response(200, ReportSchema)
@blp.alt_response(409, description="Not pending (invalid_state)")
def reject_report(body, report_id):
    return reports.decide(current_actor(), report_id, approve=False, **body)


@blp.route("/<int:report_id>/withdraw", methods=["POST"])
@jwt_required()
@blp.response(200, ReportSchema)
@blp.alt_response(409, description="Already rejected or withdrawn (invalid_state)")
def withdraw_report(report_id):
    """The member withdraws its report and may then report elsewhere."""
    return reports.withdraw(current_actor(), report_id)


@blp.route("/<int:report_id>/feedback", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(FeedbackSchema)
@blp.response(201, FeedbackSchema)
@blp.alt_response(409, description="Feedback for that year exists (feedback_exists), or report not approved")
def give_feedback(body, report_id):
    """The community's yearly word on a reported member or unit, read by the unit."""
    return reports.give_feedback(current_actor(), report_id, **body)
