from functools import wraps

from flask import jsonify, request
from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDate, LocalDateTime, Number, Pattern, Text
from api.meetings import MeetingMentionSchema
from api.needs import NeedSchema
from api.pagination import PageArgs, filters, page_of, paginate
from api.projects import ProjectSchema
from api.security import allowed, current_actor
from api.uploads import PhotoSchema
from api.wishes import WishSchema
from models.appeal import ANSWER_OUTCOMES, APPEAL_KINDS, APPEAL_SOURCES, STAFF_SOURCES, AppealAction, AppealStatus
from services import appeal_stats, appeals
from services.authz import require_appeal_staff, require_community_staff, require_department_staff, require_member

blp = Blueprint("appeals", __name__, url_prefix="/api/v1",
                description="Residents' appeals (居民诉求), escalation to departments (吹哨报到) and the three rates")

NUMBER = r"^[0-9]{8}-[0-9]{4,}$"


class AppealLocationSchema(Schema):
    address = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))
    lat = Number(required=True, allow_nan=False, validate=validate.Range(-90, 90),
                       metadata={"description": "GCJ-02"})
    lng = Number(required=True, allow_nan=False, validate=validate.Range(-180, 180),
                       metadata={"description": "GCJ-02"})


class AppealCreateSchema(Schema):
    community_id = Id(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(APPEAL_KINDS),
                         metadata={"description": "problem 随手拍, suggestion 求计问策, request, complaint 投诉"})
    title = Text(required=True, validate=validate.Length(min=1, max=100))
    content = Text(multiline=True, required=True, validate=validate.Length(min=1, max=5000))
    photo_ids = fields.List(Id(), load_default=list, validate=validate.Length(max=9),
                            metadata={"description": "At most 9 of the caller's own unattached uploads"})
    location = fields.Nested(AppealLocationSchema, load_default=None, allow_none=True)
    anonymous = fields.Boolean(load_default=False)
    source = fields.String(validate=validate.OneOf(STAFF_SOURCES), metadata={
        "description": "Only for a staff filing for a resident (community staff); absent for a member's own"})
    resident_name = Text(validate=validate.Length(min=1, max=50), metadata={"description": "Staff filing"})
    resident_phone = Text(validate=validate.Length(max=20),
                                   metadata={"description": "Staff filing: a mobile or a landline; never returned"})
    work_order_no = Text(validate=validate.Length(min=1, max=40),
                                  metadata={"description": "12345 work order: required with hotline, else refused"})
    member_id = Id(metadata={"description": "Staff filing: the member it is for, if any"})


class ResidentSchema(Schema):
    member_id = Integer(required=True, allow_none=True)
    name = fields.String(required=True, allow_none=True)
    phone_masked = fields.String(required=True, allow_none=True)


class EscalationSchema(Schema):
    department_id = Integer(required=True)
    department_name = fields.String(required=True, allow_none=True)
    due_date = LocalDate(required=True)
    note = fields.String(required=True, allow_none=True, metadata={"description": "Staff and the department only"})
    answer = fields.String(required=True, allow_none=True, metadata={"description": "Staff and the department only"})
    outcome = fields.String(required=True, allow_none=True, validate=validate.OneOf(ANSWER_OUTCOMES))
    status = fields.String(required=True, metadata={"description": "open, answered or recalled"})


class RatingSchema(Schema):
    score = Integer(required=True)
    comment = fields.String(required=True, allow_none=True)
    via = fields.String(required=True, allow_none=True, metadata={"description": "app, phone or visit"})
    at = LocalDateTime(required=True)


class LinkSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(("wish", "need", "project")))
    id = Integer(required=True)


class TimelineStepSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(list(AppealAction)))
    actor_name = fields.String(required=True, allow_none=True)
    at = LocalDateTime(required=True)
    note = fields.String(required=True, allow_none=True)


class AppealSchema(Schema):
    id = Integer(required=True)
    number = fields.String(required=True, metadata={"description": "YYYYMMDD-NNNN, local date of submission"})
    community_id = Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(APPEAL_KINDS))
    title = fields.String(required=True)
    content = fields.String(required=True)
    photos = fields.List(fields.Nested(PhotoSchema), required=True)
    location = fields.Nested(AppealLocationSchema, required=True, allow_none=True)
    anonymous = fields.Boolean(required=True)
    source = fields.String(required=True, validate=validate.OneOf(APPEAL_SOURCES))
    status = fields.String(required=True, validate=validate.OneOf(list(AppealStatus)))
    resident = fields.Nested(ResidentSchema, required=True, allow_none=True,
                             metadata={"description": "null for an anonymous appeal, but to the resident and the "
                                                      "community's own staff"})
    work_order_no = fields.String(required=True, allow_none=True)
    created_at = LocalDateTime(required=True)
    response_due_at = LocalDateTime(required=True)
    late_for_response = fields.Boolean(required=True)
    accepted_at = LocalDateTime(required=True, allow_none=True)
    due_date = LocalDate(required=True, allow_none=True)
    overdue = fields.Boolean(required=True)
    escalation = fields.Nested(EscalationSchema, required=True, allow_none=True,
                               metadata={"description": "The latest escalation"})
    reply = fields.String(required=True, allow_none=True)
    reject_reason = fields.String(required=True, allow_none=True)
    duplicate_of = fields.String(required=True, allow_none=True)
    rating = fields.Nested(RatingSchema, required=True, allow_none=True)
    linked = fields.List(fields.Nested(LinkSchema), required=True)
    resolved_at = LocalDateTime(required=True, allow_none=True)
    closed_at = LocalDateTime(required=True, allow_none=True)
    moderation = fields.String(required=True, allow_none=True,
                               metadata={"description": "review while text or a photo waits for staff"})


class AppealDetailSchema(AppealSchema):
    timeline = fields.List(fields.Nested(TimelineStepSchema), required=True)
    meetings = fields.List(fields.Nested(MeetingMentionSchema), required=True,
                           metadata={"description": "The meetings with it on their agenda, and what they decided"})


class AppealListArgs(PageArgs):
    community_id = Id()
    status = fields.String(validate=validate.OneOf(list(AppealStatus)))
    kind = fields.String(validate=validate.OneOf(APPEAL_KINDS))
    source = fields.String(validate=validate.OneOf(APPEAL_SOURCES))
    overdue = fields.Boolean()
    late = fields.Boolean()
    q = Text(validate=validate.Length(min=1, max=100),
                      metadata={"description": "An appeal number, or words of a title"})
    date_from = LocalDate(data_key="from", metadata={"description": "Local date of submission, from"})
    date_to = LocalDate(data_key="to", metadata={"description": "Local date of submission, to (inclusive)"})
    department_id = Id()
    sort = fields.String(validate=validate.OneOf(("created_at", "due_date")),
                         metadata={"description": "created_at (newest first, the default) or due_date"})


class MyAppealListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(list(AppealStatus)))


class AppealRejectSchema(Schema):
    reason = Text(multiline=True, required=True, validate=validate.Length(min=1, max=2000))
    duplicate_of = fields.String(validate=Pattern(NUMBER),
                                 metadata={"description": "The number of the appeal of this community it repeats"})


class ResolveSchema(Schema):
    reply = Text(multiline=True, required=True, validate=validate.Length(min=1, max=5000))


class EscalateSchema(Schema):
    department_id = Id(required=True)
    note = Text(multiline=True, required=True, validate=validate.Length(min=1, max=2000))
    due_date = LocalDate(metadata={"description": "The department's deadline; default 7 days from today"})


class AnswerSchema(Schema):
    reply = Text(multiline=True, required=True, validate=validate.Length(min=1, max=5000))
    outcome = fields.String(load_default="handled", validate=validate.OneOf(ANSWER_OUTCOMES))


class RecallSchema(Schema):
    reason = Text(multiline=True, required=True, validate=validate.Length(min=1, max=2000))


class RateSchema(Schema):
    score = Integer(required=True, strict=True, validate=validate.Range(1, 5))
    comment = Text(multiline=True, load_default=None, allow_none=True, validate=validate.Length(max=500))
    via = fields.String(validate=validate.OneOf(("phone", "visit")),
                        metadata={"description": "Staff recording a resident's score for a filing without a member"})


class ConvertSchema(Schema):
    to = fields.String(required=True, validate=validate.OneOf(("wish", "need", "project")))
    community_id = Id(metadata={"description": "Always the appeal's; another → 422"})
    title = Text(validate=validate.Length(min=1, max=200), metadata={"description": "Default: the appeal's"})
    description = Text(multiline=True, allow_none=True, validate=validate.Length(max=5000),
                       metadata={"description": "wish"})
    beneficiary = Text(allow_none=True, validate=validate.Length(max=200), metadata={"description": "wish"})
    deadline = LocalDate(allow_none=True, metadata={"description": "wish"})
    category = Text(validate=validate.Length(min=1, max=16), metadata={"description": "need (required)"})
    need_ids = fields.List(Id(), validate=validate.Length(min=1, max=100),
                           metadata={"description": "project (required)"})
    resource_ids = fields.List(Id(), validate=validate.Length(max=100), metadata={"description": "project"})


class AppealFiguresSchema(Schema):
    region_id = Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    received = Integer(required=True, metadata={"description": "Appeals submitted on the dates"})
    response_rate = Number(required=True, allow_none=True, metadata={
        "description": "Accepted or rejected within the response deadline ÷ received (appeals never answered and "
                       "still inside their deadline left out); null when nothing to count"})
    resolution_rate = Number(required=True, allow_none=True, metadata={
        "description": "Resolved by the end of the due date ÷ accepted (ever); null when none accepted"})
    satisfaction_rate = Number(required=True, allow_none=True, metadata={
        "description": "Scores of 4 or 5 ÷ scores given; null when none"})
    accepted = Integer(required=True, metadata={"description": "Ever accepted"})
    escalated = Integer(required=True, metadata={"description": "Ever escalated"})
    overdue = Integer(required=True)
    rated = Integer(required=True, metadata={"description": "Scores given"})
    by_kind = fields.Dict(keys=fields.String(), values=Integer(), required=True)
    by_source = fields.Dict(keys=fields.String(), values=Integer(), required=True)


class AppealStatsSchema(AppealFiguresSchema):
    date_from = LocalDate(data_key="from", attribute="from", required=True)
    date_to = LocalDate(data_key="to", attribute="to", required=True)
    children = fields.List(fields.Nested(AppealFiguresSchema), required=True)


class AppealStatsArgs(Schema):
    region_id = Id(metadata={"description": "Default: the caller's region, if it has exactly one"})
    date_from = LocalDate(data_key="from", metadata={"description": "Local date; default 1 January this year"})
    date_to = LocalDate(data_key="to", metadata={"description": "Local date; default 31 December this year"})


def filing_gate(view):
    """The role a filing needs depends on the body: with ``source`` it is a staff filing (community staff), without
    it a member's own. Asked of the raw body, before the schema's 422s, as the contract orders them."""

    @wraps(view)
    def gated(*args, **kwargs):
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            actor = current_actor()
            if body.get("source") is not None:
                require_community_staff(actor)
            else:
                require_member(actor, "请在小程序中提交诉求；工作人员代登记时请填写 source")
        return view(*args, **kwargs)

    return gated


@blp.route("/appeals", methods=["POST"])
@jwt_required()
@filing_gate
@blp.arguments(AppealCreateSchema)
@blp.response(201, AppealDetailSchema)
@blp.alt_response(403, description="A staff filing by someone who is not community staff (community_staff_only), "
                                   "or a member's appeal from a staff account (members_only)")
@blp.alt_response(409, description="The 12345 work order was filed already in this community (duplicate_work_order)")
@blp.alt_response(422, description="A field is wrong, or its text was found risky (content_rejected)")
def submit_appeal(body):
    """A member raises an appeal (随手拍, 求计问策, a request, a complaint) for any community; community staff file
    one for a resident from the 12345 hotline, a reception day, a visit or a meeting (`source`)."""
    actor = current_actor()
    return appeals.present_one(actor, appeals.submit(actor, **body))


@blp.route("/appeals")
@jwt_required()
@allowed(require_appeal_staff)
@blp.arguments(AppealListArgs, location="query")
@blp.response(200, page_of(AppealSchema))
def list_appeals(args):
    """Community staff: the appeals of their communities; a department admin: those escalated to its department.
    Newest first, or `sort=due_date`."""
    actor = current_actor()
    return paginate(appeals.list_appeals(actor, **filters(args)), args, lambda page: appeals.present(actor, page))


@blp.route("/me/appeals")
@jwt_required()
@blp.arguments(MyAppealListArgs, location="query")
@blp.response(200, page_of(AppealSchema))
def my_appeals(args):
    """The caller's own appeals, newest first."""
    actor = current_actor()
    return paginate(appeals.my_appeals(actor, **filters(args)), args, lambda page: appeals.present(actor, page))


@blp.route("/appeals/<int:appeal_id>")
@jwt_required()
@blp.response(200, AppealDetailSchema)
@blp.alt_response(404, description="Missing, or not the caller's to see (appeal_not_found)")
def get_appeal(appeal_id):
    """The appeal with its timeline, as the caller may see it."""
    actor = current_actor()
    return appeals.present_one(actor, appeals.access_appeal(actor, appeal_id))


def _answer(actor, appeal):
    return appeals.present_one(actor, appeal)


@blp.route("/appeals/<int:appeal_id>/accept", methods=["POST"])
@jwt_required()
@allowed(require_community_staff)
@blp.response(200, AppealDetailSchema)
@blp.alt_response(409, description="Not submitted (invalid_state)")
def accept_appeal(appeal_id):
    """受理: community staff take the appeal on; it is due 7 days later."""
    actor = current_actor()
    return _answer(actor, appeals.accept(actor, appeal_id))


@blp.route("/appeals/<int:appeal_id>/reject", methods=["POST"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(AppealRejectSchema)
@blp.response(200, AppealDetailSchema)
@blp.alt_response(409, description="Not submitted or accepted (invalid_state)")
def reject_appeal(body, appeal_id):
    """Not the community's business, or a duplicate of another appeal of the community (`duplicate_of`)."""
    actor = current_actor()
    return _answer(actor, appeals.reject(actor, appeal_id, **body))


@blp.route("/appeals/<int:appeal_id>/withdraw", methods=["POST"])
@jwt_required()
@allowed(require_member)
@blp.response(200, AppealDetailSchema)
@blp.alt_response(403, description="Not the resident's (not_resident)")
@blp.alt_response(409, description="Already answered (invalid_state)")
def withdraw_appeal(appeal_id):
    """The resident takes back an appeal not yet accepted or rejected."""
    actor = current_actor()
    return _answer(actor, appeals.withdraw(actor, appeal_id))


@blp.route("/appeals/<int:appeal_id>/resolve", methods=["POST"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(ResolveSchema)
@blp.response(200, AppealDetailSchema)
@blp.alt_response(409, description="Not accepted (invalid_state)")
def resolve_appeal(body, appeal_id):
    """办结, with a reply to the resident."""
    actor = current_actor()
    return _answer(actor, appeals.resolve(actor, appeal_id, **body))


@blp.route("/appeals/<int:appeal_id>/escalate", methods=["POST"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(EscalateSchema)
@blp.response(200, AppealDetailSchema)
@blp.alt_response(409, description="Not accepted (invalid_state)")
def escalate_appeal(body, appeal_id):
    """吹哨: to a department of the community's street or district; its staff are told."""
    actor = current_actor()
    return _answer(actor, appeals.escalate(actor, appeal_id, **body))


@blp.route("/appeals/<int:appeal_id>/answer", methods=["POST"])
@jwt_required()
@allowed(require_department_staff)
@blp.arguments(AnswerSchema)
@blp.response(200, AppealDetailSchema)
@blp.alt_response(409, description="Not escalated to the caller's department now (invalid_state)")
def answer_appeal(body, appeal_id):
    """报到: the department answers; the appeal goes back to the community (`accepted`)."""
    actor = current_actor()
    return _answer(actor, appeals.answer(actor, appeal_id, **body))


@blp.route("/appeals/<int:appeal_id>/recall", methods=["POST"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(RecallSchema)
@blp.response(200, AppealDetailSchema)
@blp.alt_response(409, description="Not escalated (invalid_state)")
def recall_appeal(body, appeal_id):
    """The community takes the escalation back (`accepted`)."""
    actor = current_actor()
    return _answer(actor, appeals.recall(actor, appeal_id, **body))


@blp.route("/appeals/<int:appeal_id>/rate", methods=["POST"])
@jwt_required()
@blp.arguments(RateSchema)
@blp.response(200, AppealDetailSchema)
@blp.alt_response(403, description="Not the resident's (not_resident)")
@blp.alt_response(409, description="Rated already (already_rated), or not resolved (invalid_state)")
def rate_appeal(body, appeal_id):
    """The resident scores a resolved appeal once (1–5); it is closed. For a staff filing that names no member,
    community staff record the resident's score with `via`."""
    actor = current_actor()
    return _answer(actor, appeals.rate(actor, appeal_id, **body))


CONVERTED_SCHEMAS = {"wish": WishSchema(), "need": NeedSchema(), "project": ProjectSchema()}


@blp.route("/appeals/<int:appeal_id>/convert", methods=["POST"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(ConvertSchema)
@blp.doc(responses={"201": {"description": "The new wish, need or project (`appeal_id` on it)", "content": {
    "application/json": {"schema": {"oneOf": [{"$ref": "#/components/schemas/Wish"},
                                              {"$ref": "#/components/schemas/Need"},
                                              {"$ref": "#/components/schemas/Project"}]}}}}})
@blp.alt_response(409, description="Not accepted (invalid_state)")
def convert_appeal(body, appeal_id):
    """Turn an accepted appeal into a wish, a need or a project of its community; it stays accepted."""
    actor = current_actor()
    to, made = appeals.convert(actor, appeal_id, **body)
    response = jsonify(CONVERTED_SCHEMAS[to].dump(appeals.present_converted(actor, to, made)))
    response.status_code = 201
    return response


@blp.route("/stats/appeals")
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(AppealStatsArgs, location="query")
@blp.response(200, AppealStatsSchema)
@blp.alt_response(403, description="Not community staff (community_staff_only)")
@blp.alt_response(404, description="Region unknown or outside the caller's scope")
def stats_of_appeals(args):
    """接诉即办: received, the response, resolution and satisfaction rates, escalated and overdue appeals, by kind
    and by source, for the region and each child region, over local submission dates `from`..`to`."""
    return appeal_stats.appeal_stats(current_actor(), **args)
