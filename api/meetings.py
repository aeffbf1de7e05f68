from flask import jsonify
from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.downloads import BINARY, XLSX_MIMETYPE, send_download
from api.fields import Id, Integer, LocalDate, LocalDateTime, Text, Year
from api.pagination import PageArgs, filters, page_of, paginate
from api.schemas import answer_schema
from api.security import allowed, current_actor
from api.tasks import TaskSchema
from models.governance import MEETING_KINDS, PARTNER_ROLES, MeetingStatus
from services import governance_stats, meeting_files, meetings
from services.authz import require_community_staff

blp = Blueprint("meetings", __name__, url_prefix="/api/v1",
                description="Meetings (五方联席会, 议事协商会, 居民接待日, 听证会): agendas, minutes, decisions, votes")

KIND_DESCRIPTION = "joint 五方联席会, consultation 议事协商会, reception 居民接待日, hearing 听证会"


class VotesSchema(Schema):
    votes_for = Integer(required=True, data_key="for", attribute="for", validate=validate.Range(0, 100000))
    against = Integer(required=True, validate=validate.Range(0, 100000))
    abstain = Integer(required=True, validate=validate.Range(0, 100000))


class AgendaItemSchema(Schema):
    index = Integer(dump_only=True, metadata={"description": "0-based: a decision's agenda_index"})
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    appeal_id = Id(load_default=None, allow_none=True, metadata={"description": "An appeal of the community"})
    need_id = Id(load_default=None, allow_none=True, metadata={"description": "A need of the community"})
    project_id = Id(load_default=None, allow_none=True, metadata={"description": "A project of the community"})


class AttendeeSchema(Schema):
    """Exactly one key per entry in a request; answers carry all three, ``name`` the partner's, member's or given
    name."""

    partner_id = Id(allow_none=True)
    member_id = Id(allow_none=True)
    name = Text(allow_none=True, validate=validate.Length(min=1, max=50))


class TaskSpecSchema(Schema):
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    owner_partner_id = Id(required=True, metadata={"description": "An active partner of the community"})
    due_date = LocalDate(required=True, metadata={"description": "Not before the meeting's day"})


class MeetingDecisionSpecSchema(Schema):
    agenda_index = Integer(load_default=None, allow_none=True, validate=validate.Range(0, 999),
                           metadata={"description": "The agenda item decided, 0-based"})
    text = Text(multiline=True, required=True, validate=validate.Length(min=1, max=5000))
    votes = fields.Nested(VotesSchema, load_default=None, allow_none=True)
    tasks = fields.List(fields.Nested(TaskSpecSchema), load_default=list, validate=validate.Length(max=50))


class MinutesSchema(Schema):
    summary = Text(multiline=True, required=True, validate=validate.Length(min=1, max=20000))
    attendance = fields.List(fields.Nested(AttendeeSchema), load_default=list, validate=validate.Length(max=500),
                             metadata={"description": "[{partner_id} | {member_id} | {name}], one key each"})
    decisions = fields.List(fields.Nested(MeetingDecisionSpecSchema), load_default=list,
                            validate=validate.Length(max=100))


class MinutesCorrectionSchema(MinutesSchema):
    reason = Text(multiline=True, required=True, validate=validate.Length(min=1, max=2000))


class CancelMeetingSchema(Schema):
    reason = Text(multiline=True, required=True, validate=validate.Length(min=1, max=2000))


class PartnerNameSchema(Schema):
    id = Integer(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(PARTNER_ROLES))


class MeetingDecisionSchema(Schema):
    id = Integer(required=True, metadata={"description": "What a project's approval may cite (decision_id)"})
    index = Integer(required=True, metadata={"description": "Its place in the minutes, 0-based"})
    agenda_index = Integer(required=True, allow_none=True)
    text = fields.String(required=True)
    votes = fields.Nested(VotesSchema, required=True, allow_none=True)
    tasks = fields.List(fields.Nested(TaskSchema), required=True)


class MeetingDecisionSummarySchema(Schema):
    text = fields.String(required=True)
    votes = fields.Nested(VotesSchema, required=True, allow_none=True)


class MeetingChangeSchema(Schema):
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    starts_at = LocalDateTime(required=True, metadata={"description": "May lie in the past"})
    place = Text(required=True, validate=validate.Length(min=1, max=200))
    partner_ids = fields.List(Id(), load_default=list, validate=validate.Length(max=100),
                              metadata={"description": "Partners invited: active partners of the community"})
    agenda = fields.List(fields.Nested(AgendaItemSchema), load_default=list, validate=validate.Length(max=50))


class MeetingSchema(MeetingChangeSchema):
    """A meeting as the community's staff see it."""

    id = Integer(dump_only=True)
    community_id = Id(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(MEETING_KINDS),
                         metadata={"description": KIND_DESCRIPTION})
    status = fields.String(dump_only=True, validate=validate.OneOf(list(MeetingStatus)))
    partners = fields.List(fields.Nested(PartnerNameSchema), dump_only=True)
    summary = fields.String(dump_only=True, allow_none=True)
    attendance = fields.List(fields.Nested(AttendeeSchema), dump_only=True)
    decisions = fields.List(fields.Nested(MeetingDecisionSchema), dump_only=True)
    minutes_version = Integer(dump_only=True, metadata={"description": "0 before the minutes are recorded"})
    held_at = LocalDateTime(dump_only=True, allow_none=True, metadata={"description": "Minutes first recorded"})
    minutes_updated_at = LocalDateTime(dump_only=True, allow_none=True)
    cancel_reason = fields.String(dump_only=True, allow_none=True)
    cancelled_at = LocalDateTime(dump_only=True, allow_none=True)
    created_at = LocalDateTime(dump_only=True)


class MeetingSummarySchema(Schema):
    """A meeting as everyone but the community's staff sees it: what was decided, never who attended."""

    id = Integer(required=True)
    community_id = Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(MEETING_KINDS))
    title = fields.String(required=True)
    starts_at = LocalDateTime(required=True)
    place = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(list(MeetingStatus)))
    summary = fields.String(required=True, allow_none=True)
    decisions = fields.List(fields.Nested(MeetingDecisionSummarySchema), required=True)


class DecisionMentionSchema(Schema):
    id = Integer(required=True)
    text = fields.String(required=True)


class MeetingMentionSchema(Schema):
    """A meeting (not cancelled) with an appeal, a need or a project on its agenda, and the decisions taken on it."""

    id = Integer(required=True)
    title = fields.String(required=True)
    starts_at = LocalDateTime(required=True)
    decisions = fields.List(fields.Nested(DecisionMentionSchema), required=True)


class MeetingListArgs(PageArgs):
    community_id = Id()
    kind = fields.String(validate=validate.OneOf(MEETING_KINDS))
    status = fields.String(validate=validate.OneOf(list(MeetingStatus)))
    date_from = LocalDate(data_key="from", metadata={"description": "Local date of the start, from"})
    date_to = LocalDate(data_key="to", metadata={"description": "Local date of the start, to (inclusive)"})


class MinutesVersionSchema(Schema):
    version = Integer(required=True)
    summary = fields.String(required=True)
    attendance = fields.List(fields.Nested(AttendeeSchema), required=True)
    decisions = fields.List(fields.Nested(MeetingDecisionSpecSchema), required=True)
    reason = fields.String(required=True, allow_none=True, metadata={"description": "null for version 1"})
    recorded_by = Integer(required=True, allow_none=True)
    recorded_by_name = fields.String(required=True, allow_none=True)
    recorded_at = LocalDateTime(required=True)


class ExportArgs(Schema):
    format = fields.String(load_default="xlsx", validate=validate.OneOf(("xlsx", "pdf")))


class GovernanceFiguresSchema(Schema):
    community_id = Integer(required=True)
    name = fields.String(required=True)
    joint_meetings = Integer(required=True, metadata={"description": "Held joint meetings that started in the year"})
    months_without_joint_meeting = fields.List(Integer(), required=True, metadata={
        "description": "Months 1 .. the current one (local) without a held joint meeting"})
    decisions = Integer(required=True, metadata={"description": "Decisions of the meetings held in the year"})
    tasks_open = Integer(required=True, metadata={"description": "Tasks of the year's meetings still open"})
    tasks_overdue = Integer(required=True, metadata={"description": "Of those, past their due date"})


class GovernanceStatsSchema(Schema):
    region_id = Integer(required=True)
    year = Integer(required=True)
    items = fields.List(fields.Nested(GovernanceFiguresSchema), required=True)
    page = Integer(required=True)
    per_page = Integer(required=True)
    total = Integer(required=True)


class GovernanceStatsArgs(PageArgs):
    region_id = Id(metadata={"description": "Default: the caller's region, if it has exactly one"})
    year = Year(metadata={"description": "Default: this year"})


# What anyone signed in gets: the staff's view of a meeting, or what was decided.
FULL, SUMMARY = answer_schema(MeetingSchema)(), answer_schema(MeetingSummarySchema)()


def _either():
    return {"anyOf": [answer_schema(MeetingSchema), answer_schema(MeetingSummarySchema)]}


def _page_of_either():
    integer = {"type": "integer"}
    return {"type": "object", "required": ["items", "page", "per_page", "total"], "properties": {
        "items": {"type": "array", "items": _either()}, "page": integer, "per_page": integer, "total": integer}}


def _dumped(item):
    return (FULL if item["staff_view"] else SUMMARY).dump(item)


@blp.route("/meetings", methods=["POST"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(MeetingSchema)
@blp.response(201, MeetingSchema)
def schedule_meeting(body):
    """Community staff put a meeting on the calendar (`scheduled`), with the partners invited and its agenda."""
    actor = current_actor()
    return meetings.present_one(actor, meetings.schedule_meeting(actor, **body))


@blp.route("/meetings")
@jwt_required()
@blp.arguments(MeetingListArgs, location="query")
@blp.response(200, _page_of_either())
def list_meetings(args):
    """Meetings newest first (any signed-in user): the community's staff see each in full, everyone else what was
    decided (`MeetingSummary`)."""
    actor = current_actor()
    page = paginate(meetings.list_meetings(**filters(args)), args, lambda rows: meetings.present(actor, rows))
    return jsonify({**page, "items": [_dumped(item) for item in page["items"]]})


@blp.route("/meetings/<int:meeting_id>")
@jwt_required()
@blp.response(200, _either())
@blp.alt_response(404, description="No such meeting (meeting_not_found)")
def get_meeting(meeting_id):
    """A meeting: in full for the community's staff, what was decided for everyone else."""
    actor = current_actor()
    return jsonify(_dumped(meetings.present_one(actor, meetings.access_meeting(actor, meeting_id, for_write=False))))


@blp.route("/meetings/<int:meeting_id>", methods=["PATCH"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(MeetingChangeSchema(partial=True))
@blp.response(200, MeetingSchema)
@blp.alt_response(404, description="Missing or outside the caller's scope (meeting_not_found)")
@blp.alt_response(409, description="Held or cancelled (invalid_state)")
def reschedule_meeting(body, meeting_id):
    """Reschedule a scheduled meeting: its title, time, place, invited partners or agenda."""
    actor = current_actor()
    return meetings.present_one(actor, meetings.reschedule_meeting(actor, meeting_id, **body))


@blp.route("/meetings/<int:meeting_id>/minutes", methods=["POST"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(MinutesSchema)
@blp.response(200, MeetingSchema)
@blp.alt_response(404, description="Missing or outside the caller's scope (meeting_not_found)")
@blp.alt_response(409, description="Minutes recorded already, or the meeting was cancelled (invalid_state)")
def record_minutes(body, meeting_id):
    """The minutes, once: summary, attendance, decisions with their votes and tasks. The meeting is `held`."""
    actor = current_actor()
    return meetings.present_one(actor, meetings.record_minutes(actor, meeting_id, **body))


@blp.route("/meetings/<int:meeting_id>/minutes", methods=["PUT"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(MinutesCorrectionSchema)
@blp.response(200, MeetingSchema)
@blp.alt_response(404, description="Missing or outside the caller's scope (meeting_not_found)")
@blp.alt_response(409, description="Not held (invalid_state)")
def correct_minutes(body, meeting_id):
    """Correct a held meeting's minutes, with the reason: the next version, every earlier one kept. Decisions and
    tasks already recorded stay (reworded in place by their position); tasks keep their status."""
    actor = current_actor()
    return meetings.present_one(actor, meetings.correct_minutes(actor, meeting_id, **body))


@blp.route("/meetings/<int:meeting_id>/minutes/versions")
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(MinutesVersionSchema))
@blp.alt_response(404, description="Missing or outside the caller's scope (meeting_not_found)")
def list_minutes_versions(args, meeting_id):
    """Every version of the minutes, the first first, each with its reason (community staff)."""
    return paginate(meetings.minutes_versions(current_actor(), meeting_id), args, meetings.present_versions)


@blp.route("/meetings/<int:meeting_id>/cancel", methods=["POST"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(CancelMeetingSchema)
@blp.response(200, MeetingSchema)
@blp.alt_response(404, description="Missing or outside the caller's scope (meeting_not_found)")
@blp.alt_response(409, description="Not scheduled (invalid_state)")
def cancel_meeting(body, meeting_id):
    """Cancel a scheduled meeting, with the reason."""
    actor = current_actor()
    return meetings.present_one(actor, meetings.cancel_meeting(actor, meeting_id, **body))


@blp.route("/meetings/<int:meeting_id>/minutes/export")
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(ExportArgs, location="query")
@blp.response(200, BINARY, content_type=XLSX_MIMETYPE,
              description="With `format=xlsx` (the default): the minutes and the decisions with their tasks")
@blp.alt_response(200, schema=BINARY, content_type="application/pdf", success=True,
                  description="With `format=pdf`: a printable A4 page in an embedded Chinese font")
@blp.alt_response(404, description="Missing or outside the caller's scope (meeting_not_found)")
def export_minutes(args, meeting_id):
    """The meeting's minutes and decisions for the notice board and the street's files: no resident is named
    (partners present are, other attendees counted), no phone is shown."""
    actor = current_actor()
    if args["format"] == "pdf":
        content, name = meeting_files.minutes_pdf(actor, meeting_id)
        return send_download(content, "application/pdf", name)
    content, name = meeting_files.minutes_xlsx(actor, meeting_id)
    return send_download(content, XLSX_MIMETYPE, name)


@blp.route("/stats/governance")
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(GovernanceStatsArgs, location="query")
@blp.response(200, GovernanceStatsSchema)
@blp.alt_response(404, description="Region unknown or outside the caller's scope (region_not_found)")
def stats_of_governance(args):
    """Per community of the region, a page at a time: held joint meetings in the local year, the months (up to the
    current one) without one, decisions, and the tasks of the year's meetings still open and overdue."""
    region, year, communities = governance_stats.communities_of(
        current_actor(), region_id=args.pop("region_id", None), year=args.pop("year", None))
    page = paginate(communities, args, lambda rows: governance_stats.figures(rows, year))
    return {**page, "region_id": region.id, "year": year}
