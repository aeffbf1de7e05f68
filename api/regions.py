from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, Text
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from models.region import REGION_KINDS
from services import regions
from services.authz import require_region_staff

blp = Blueprint("regions", __name__, url_prefix="/api/v1/regions", description="Districts, streets, communities")


class RegionSchema(Schema):
    id = Integer(dump_only=True)
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    kind = fields.String(required=True, validate=validate.OneOf(REGION_KINDS))
    parent_id = Id(allow_none=True, load_default=None)
    contact_name = Text(allow_none=True, validate=validate.Length(max=50))
    contact_phone = Text(allow_none=True, validate=validate.Length(max=30))
    address = Text(allow_none=True, validate=validate.Length(max=255))


class RegionListArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf(REGION_KINDS))
    parent_id = Id()


@blp.route("", methods=["POST"])
@jwt_required()
@allowed(require_region_staff)
@blp.arguments(RegionSchema)
@blp.response(201, RegionSchema)
def create_region(body):
    """A district (sysadmin), or a street or community under a region the caller administers."""
    return regions.create_region(current_actor(), **body)


@blp.route("")
@jwt_required()
@blp.arguments(RegionListArgs, location="query")
@blp.response(200, page_of(RegionSchema))
def list_regions(args):
    return paginate(regions.list_regions(**filters(args)), args)


@blp.route("/<int:region_id>")
@jwt_required()
@blp.response(200, RegionSchema)
def get_region(region_id):
    return regions.get_region(current_actor(), region_id)
