from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.downloads import BINARY, XLSX_MIMETYPE, send_download
from api.fields import Hours, Id, Integer, LocalDate, LocalDateTime, Text, Year
from api.jobs import JobSubmittedSchema, accepted
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from models.activity import CATEGORIES
from models.record import CorrectionStatus, RecordSource, RecordStatus
from services import background, exports, records
from services.authz import require_region_staff, require_staff

blp = Blueprint("records", __name__, url_prefix="/api/v1", description="Service records (服务时长)")


class ServiceRecordSchema(Schema):
    id = Integer(dump_only=True)
    member_id = Id(required=True)
    activity_id = Id(allow_none=True, load_default=None)
    community_id = Id(allow_none=True, load_default=None, metadata={
        "description": "The community the hours count for: the activity's when there is one; without one, a "
                       "community admin's own community by default (staff covering several communities name it)"})
    shift_id = Integer(dump_only=True, allow_none=True)
    attendance_id = Integer(dump_only=True, allow_none=True)
    team_id = Integer(dump_only=True, allow_none=True,
                      metadata={"description": "The team whose sign-up the attendance followed, if any"})
    category = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(CATEGORIES),
                             metadata={"description": "Defaults to the activity's category"})
    started_at = LocalDateTime(required=True)
    ended_at = LocalDateTime(required=True)
    hours = Hours(required=True)
    description = Text(multiline=True, allow_none=True, load_default=None, validate=validate.Length(max=2000))
    status = fields.String(dump_only=True, validate=validate.OneOf(list(RecordStatus)))
    source = fields.String(dump_only=True, validate=validate.OneOf(list(RecordSource)))
    reason = fields.String(dump_only=True, allow_none=True)
    created_by = Integer(dump_only=True, allow_none=True, metadata={"description": "Who entered it; null for a scan"})
    decided_by = Integer(dump_only=True, allow_none=True)
    decided_at = LocalDateTime(dump_only=True, allow_none=True)
    created_at = LocalDateTime(dump_only=True)


class RecordListArgs(PageArgs):
    community_id = Id()
    member_id = Id()
    status = fields.String(validate=validate.OneOf(list(RecordStatus)))
    date_from = LocalDate(data_key="from", metadata={"description": "Local date of the start, inclusive"})
    date_to = LocalDate(data_key="to", metadata={"description": "Local date of the start, inclusive"})


class ExportArgs(Schema):
    community_id = Id()
    member_id = Id()
    status = fields.String(validate=validate.OneOf(list(RecordStatus)))
    date_from = LocalDate(data_key="from")
    date_to = LocalDate(data_key="to")
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))
    run_async = fields.Boolean(data_key="async", load_default=False,
                               metadata={"description": "Run as a background job: 202 with its id"})


class MyRecordArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(list(RecordStatus)))
    year = Year()


class YearArgs(Schema):
    year = Year()


class HoursSummarySchema(Schema):
    year = Integer()
    approved_hours = Hours()
    pending_hours = Hours()
    by_category = fields.Dict(keys=fields.String(), values=Hours(),
                              metadata={"description": "Approved hours per category"})


class DecisionSchema(Schema):
    reason = Text(multiline=True, load_default=None, allow_none=True, validate=validate.Length(max=500))


class BulkApprovalSchema(Schema):
    ids = fields.List(Id(), validate=validate.Length(min=1, max=500),
                      metadata={"description": "1 to 500 record ids; or activity_id, not both"})
    activity_id = Id(metadata={"description": "Every pending record of this activity; or ids, not both"})


class SkippedRecordSchema(Schema):
    id = Integer(required=True)
    code = fields.String(required=True, validate=validate.OneOf(("record_not_found", "own_record", "invalid_state")))


class BulkApprovalResultSchema(Schema):
    approved = Integer(required=True, metadata={"description": "How many records this request approved"})
    skipped = fields.List(fields.Nested(SkippedRecordSchema), required=True)


class CorrectionSchema(Schema):
    hours = Hours()
    started_at = LocalDateTime()
    ended_at = LocalDateTime()
    description = Text(multiline=True, allow_none=True, validate=validate.Length(max=2000))
    reason = Text(multiline=True, required=True, validate=validate.Length(min=1, max=500))


class RecordChangeSchema(Schema):
    id = Integer()
    action = fields.String(metadata={"description": "create, approve, reject or correct"})
    actor_id = Integer(allow_none=True, metadata={"description": "Who; null for the system"})
    actor_name = fields.String(allow_none=True)
    at = LocalDateTime()
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    reason = fields.String(allow_none=True)


class CorrectionRequestSchema(Schema):
    id = Integer(dump_only=True)
    record_id = Integer(dump_only=True)
    member_id = Integer(dump_only=True)
    hours = Hours(required=True)
    reason = Text(multiline=True, required=True, validate=validate.Length(min=1, max=500))
    status = fields.String(dump_only=True, validate=validate.OneOf(list(CorrectionStatus)))
    decline_reason = fields.String(dump_only=True, allow_none=True)
    decided_at = LocalDateTime(dump_only=True, allow_none=True)
    created_at = LocalDateTime(dump_only=True)
    moderation = fields.String(dump_only=True, allow_none=True,
                               metadata={"description": "review: the reason waits for staff"})


class RequestListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(list(CorrectionStatus)))
    community_id = Id()


@blp.route("/service-records", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(ServiceRecordSchema)
@blp.response(201, ServiceRecordSchema)
@blp.alt_response(404, description="Community outside the caller's scope (region_not_found)")
def create_record(body):
    """Enter hours by hand (staff); `hours` may not exceed the real span from start to end."""
    return records.create_manual(current_actor(), **body)


@blp.route("/service-records")
@jwt_required()
@allowed(require_staff)
@blp.arguments(RecordListArgs, location="query")
@blp.response(200, page_of(ServiceRecordSchema))
def list_records(args):
    """Records within the caller's scope (staff)."""
    return paginate(records.list_records(current_actor(), **filters(args)), args)


@blp.route("/service-records/export")
@jwt_required()
@allowed(require_staff)
@blp.arguments(ExportArgs, location="query")
@blp.response(200, BINARY, content_type="text/csv", description="With `format=csv`: CSV, UTF-8 with a BOM, streamed")
@blp.alt_response(200, schema=BINARY, content_type=XLSX_MIMETYPE, success=True,
                  description="With `format=xlsx`: an XLSX workbook, streamed")
@blp.alt_response(202, schema=JobSubmittedSchema, success=True,
                  description="With `async=true`: queued as a background job (GET /jobs/{id})")
def export_records(args):
    """Download the records within the caller's scope as CSV or XLSX; with `async=true` (a district's year) it runs
    as a background job with its progress, and the file is downloaded when done."""
    file_format = args.pop("format")
    if args.pop("run_async"):
        return _export_job(file_format, args)
    query = exports.export_query(current_actor(), **args)
    if file_format == "xlsx":
        body, mimetype = exports.file_chunks(exports.write_xlsx(query)), XLSX_MIMETYPE
    else:
        body, mimetype = exports.csv_chunks(query), "text/csv"
    return send_download(body, mimetype, f"service-records.{file_format}")


@blp.route("/service-records/export", methods=["POST"])
@jwt_required()
@allowed(require_staff)
@blp.arguments(ExportArgs, location="query")
@blp.response(202, JobSubmittedSchema, description="Queued as a background job (GET /jobs/{id})")
def export_records_in_background(args):
    """The export as a background job, whatever `async` says: 202 with the job's id."""
    file_format = args.pop("format")
    args.pop("run_async")
    return _export_job(file_format, args)


def _export_job(file_format, filters):
    return accepted(background.submit_export(current_actor(), file_format=file_format, **filters))


@blp.route("/service-records/<int:record_id>")
@jwt_required()
@blp.response(200, ServiceRecordSchema)
@blp.alt_response(404, description="Not found or outside the caller's scope (record_not_found)")
def get_record(record_id):
    """One record: the caller's own, or within the caller's scope."""
    return records.access_record(current_actor(), record_id, for_write=False)


@blp.route("/service-records/<int:record_id>", methods=["PATCH"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(CorrectionSchema)
@blp.response(200, ServiceRecordSchema)
@blp.alt_response(403, description="One's own record (own_record)")
@blp.alt_response(409, description="A rejected record (invalid_state)")
def correct_record(body, record_id):
    """Correct a record (a `reason` is required); the change is kept in the history and points are settled."""
    return records.correct(current_actor(), record_id, **body)


@blp.route("/service-records/approve", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(BulkApprovalSchema)
@blp.response(200, BulkApprovalResultSchema)
@blp.alt_response(404, description="The activity lies outside the caller's scope (activity_not_found)")
def approve_records(body):
    """Approve many records at once, `ids` or an `activity_id`'s pending ones: each under the rules of one approval,
    points credited once each; those it would refuse are skipped with their code (record_not_found, own_record,
    invalid_state)."""
    return records.approve_many(current_actor(), **body)


@blp.route("/service-records/<int:record_id>/approve", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.response(200, ServiceRecordSchema)
@blp.alt_response(403, description="One's own record (own_record)")
@blp.alt_response(409, description="Not pending (invalid_state)")
def approve_record(record_id):
    """Approve a pending record (region staff covering its community); its points are credited once."""
    return records.decide(current_actor(), record_id, approve=True)


@blp.route("/service-records/<int:record_id>/reject", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(DecisionSchema)
@blp.response(200, ServiceRecordSchema)
@blp.alt_response(403, description="One's own record (own_record)")
@blp.alt_response(409, description="Not pending (invalid_state)")
def reject_record(body, record_id):
    """Reject a pending record."""
    return records.decide(current_actor(), record_id, approve=False, **body)


@blp.route("/service-records/<int:record_id>/history")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(RecordChangeSchema))
def record_history(args, record_id):
    """Every change of the record, oldest first: who, when, before, after and why."""
    return paginate(records.history(current_actor(), record_id), args, records.present_changes)


@blp.route("/service-records/<int:record_id>/correction-requests", methods=["POST"])
@jwt_required()
@blp.arguments(CorrectionRequestSchema)
@blp.response(201, CorrectionRequestSchema)
@blp.alt_response(409, description="A request is already open (correction_pending)")
def request_correction(body, record_id):
    """The record's member asks staff to correct its hours."""
    return records.request_correction(current_actor(), record_id, **body)


@blp.route("/correction-requests")
@jwt_required()
@allowed(require_staff)
@blp.arguments(RequestListArgs, location="query")
@blp.response(200, page_of(CorrectionRequestSchema))
def list_correction_requests(args):
    """Correction requests on records within the caller's scope (staff)."""
    return paginate(records.list_requests(current_actor(), **filters(args)), args, records.present_requests)


@blp.route("/correction-requests/<int:request_id>/accept", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.response(200, CorrectionRequestSchema)
@blp.alt_response(409, description="Already answered (invalid_state)")
def accept_correction(request_id):
    """Accept a correction request: it is applied as a correction and kept in the history."""
    return records.accept_request(current_actor(), request_id)


@blp.route("/correction-requests/<int:request_id>/decline", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(DecisionSchema)
@blp.response(200, CorrectionRequestSchema)
@blp.alt_response(409, description="Already answered (invalid_state)")
def decline_correction(body, request_id):
    """Decline a correction request; the member is told why."""
    return records.decline_request(current_actor(), request_id, **body)


@blp.route("/me/service-records")
@jwt_required()
@blp.arguments(MyRecordArgs, location="query")
@blp.response(200, page_of(ServiceRecordSchema))
def my_records(args):
    """The caller's own records, newest first."""
    return paginate(records.my_records(current_actor(), **filters(args)), args)


@blp.route("/me/hours")
@jwt_required()
@blp.arguments(YearArgs, location="query")
@blp.response(200, HoursSummarySchema)
def my_hours(args):
    """The caller's approved and pending hours in a local calendar year (default this year)."""
    return records.my_hours(current_actor(), **args)
