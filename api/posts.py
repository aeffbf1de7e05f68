
from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import ClockTime, Id, Integer, LocalDate, LocalDateTime, Number, Text
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from models.post import POST_KINDS, AssignmentStatus
from services import posts, shifts
from services.authz import require_region_staff

blp = Blueprint("posts", __name__, url_prefix="/api/v1", description="Duty posts and rosters (排班)")


class PostLocationSchema(Schema):
    address = Text(load_default=None, allow_none=True, validate=validate.Length(max=255))
    lat = Number(load_default=None, allow_none=True, validate=validate.Range(-90, 90))
    lng = Number(load_default=None, allow_none=True, validate=validate.Range(-180, 180))
    radius_m = Integer(load_default=None, allow_none=True, validate=validate.Range(1, 10000))


class PostSchema(Schema):
    id = Integer(dump_only=True)
    community_id = Id(required=True)
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(POST_KINDS))
    location = fields.Nested(PostLocationSchema, load_default=dict)
    created_at = LocalDateTime(dump_only=True)


class PostListArgs(PageArgs):
    community_id = Id()
    kind = fields.String(validate=validate.OneOf(POST_KINDS))


class TemplateSchema(Schema):
    """A weekly slot in local time. ``end`` at or before ``start`` ends the next day (22:00–02:00 is 4 hours).
    With ``skip_holidays`` it runs on China's official working days only: statutory holidays are skipped and
    make-up workdays (调休上班, even on a weekend) are worked; for years the official calendar does not cover yet,
    Monday to Friday."""

    id = Integer(dump_only=True)
    post_id = Integer(dump_only=True)
    weekdays = fields.List(Integer(validate=validate.Range(1, 7)), required=True,
                           validate=validate.Length(min=1, max=7), metadata={"description": "1 = Monday"})
    start = ClockTime(required=True, metadata={"example": "07:00"})
    end = ClockTime(required=True, metadata={"example": "09:00"})
    seats = Integer(required=True, validate=validate.Range(1, 100))
    skip_holidays = fields.Boolean(load_default=False)
    active = fields.Boolean(dump_only=True)
    created_at = LocalDateTime(dump_only=True)


class TemplateChangeSchema(Schema):
    weekdays = fields.List(Integer(validate=validate.Range(1, 7)), validate=validate.Length(min=1, max=7))
    start = ClockTime()
    end = ClockTime()
    seats = Integer(validate=validate.Range(1, 100))
    skip_holidays = fields.Boolean()
    active = fields.Boolean(metadata={"description": "false stops generating; future unassigned shifts go"})


class PoolEntrySchema(Schema):
    post_id = Integer(dump_only=True)
    member_id = Integer(dump_only=True)
    name = fields.String(dump_only=True, allow_none=True)
    joined_at = LocalDateTime(dump_only=True)


class AssigneeSchema(Schema):
    member_id = Integer()
    name = fields.String(allow_none=True, metadata={
        "description": "Whole for the post's community staff and those on the shift, masked (王*) for others"})
    status = fields.String(validate=validate.OneOf(list(AssignmentStatus.HELD)))


class ShiftSchema(Schema):
    id = Integer()
    post_id = Integer()
    template_id = Integer(allow_none=True)
    starts_at = LocalDateTime()
    ends_at = LocalDateTime()
    seats = Integer()
    filled = Integer()
    assignees = fields.List(fields.Nested(AssigneeSchema))
    my_status = fields.String(allow_none=True, metadata={"description": "the caller's status on the shift, or null"})


class ShiftRangeArgs(PageArgs):
    date_from = LocalDate(data_key="from",
                        metadata={"description": "first local date (default today)"})
    date_to = LocalDate(data_key="to",
                     metadata={"description": "last local date, inclusive (default 13 days after from)"})


@blp.route("/posts", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(PostSchema)
@blp.response(201, PostSchema)
def create_post(body):
    """A duty post in a community (community staff or above)."""
    return posts.create_post(current_actor(), **body)


@blp.route("/posts")
@jwt_required()
@blp.arguments(PostListArgs, location="query")
@blp.response(200, page_of(PostSchema))
def list_posts(args):
    """Posts, optionally of one community or kind (any signed-in user)."""
    return paginate(posts.list_posts(**filters(args)), args)


@blp.route("/posts/<int:post_id>")
@jwt_required()
@blp.response(200, PostSchema)
def get_post(post_id):
    """One post."""
    return posts.access_post(current_actor(), post_id, for_write=False)


@blp.route("/posts/<int:post_id>/templates", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(TemplateSchema)
@blp.response(201, TemplateSchema)
def create_template(body, post_id):
    """A weekly shift template (community staff); the coming 14 days of shifts are generated at once."""
    return posts.create_template(current_actor(), post_id, **body)


@blp.route("/posts/<int:post_id>/templates")
@jwt_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(TemplateSchema))
def list_templates(args, post_id):
    """The post's templates."""
    return paginate(posts.list_templates(current_actor(), post_id), args)


@blp.route("/posts/<int:post_id>/templates/<int:template_id>", methods=["PATCH"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(TemplateChangeSchema)
@blp.response(200, TemplateSchema)
def update_template(changes, post_id, template_id):
    """Edit a template (community staff): future shifts nobody holds follow it; assigned and past shifts stay."""
    return posts.update_template(current_actor(), post_id, template_id, **changes)


@blp.route("/posts/<int:post_id>/templates/<int:template_id>")
@jwt_required()
@blp.response(200, TemplateSchema)
def get_template(post_id, template_id):
    """One template."""
    return posts.get_template(current_actor(), post_id, template_id)


@blp.route("/posts/<int:post_id>/pool", methods=["POST"])
@jwt_required()
@blp.response(201, PoolEntrySchema)
@blp.alt_response(409, description="Already in the pool (already_in_pool)")
def join_pool(post_id):
    """The caller volunteers for the post's roster pool; nobody is ever put in a pool by someone else."""
    return posts.join_pool(current_actor(), post_id)


@blp.route("/posts/<int:post_id>/pool/me", methods=["DELETE"])
@jwt_required()
@blp.response(204)
@blp.alt_response(404, description="Not in the pool (not_in_pool)")
def leave_pool(post_id):
    """The caller leaves the pool; shifts already assigned stay until declined."""
    posts.leave_pool(current_actor(), post_id)


@blp.route("/posts/<int:post_id>/pool")
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(PoolEntrySchema))
def list_pool(args, post_id):
    """The post's pool in joining order (staff of the post's community)."""
    return paginate(posts.list_pool(current_actor(), post_id), args, transform=posts.pool_entries)


@blp.route("/posts/<int:post_id>/shifts")
@jwt_required()
@blp.arguments(ShiftRangeArgs, location="query")
@blp.response(200, page_of(ShiftSchema))
def list_shifts(args, post_id):
    """The post's roster: shifts starting on local days ``from`` .. ``to`` with their assignees."""
    actor = current_actor()
    return paginate(shifts.post_shifts(actor, post_id, **filters(args)), args,
                    transform=lambda rows: shifts.with_assignees(actor, rows))
