from flask_jwt_extended import jwt_required
from marshmallow import Schema, fields, validate

from api.blueprint import Blueprint
from api.fields import Id, Integer, LocalDateTime, Text
from api.pagination import PageArgs, filters, page_of, paginate
from api.security import allowed, current_actor
from models.governance import PARTNER_ROLES
from services import partners
from services.authz import require_community_staff

blp = Blueprint("partners", __name__, url_prefix="/api/v1",
                description="A community's partners in co-governance (五方共建, 社会治理合伙人)")


class PartnerChangeSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.OneOf(PARTNER_ROLES), metadata={
        "description": "party_branch 党支部, residents_committee 居委会, property_company 物业公司, owners_committee "
                       "业委会, social_org 社会组织, department 职能部门, unit 共建单位, other"})
    unit_id = Id(load_default=None, allow_none=True, metadata={"description": "Required with role unit, else refused"})
    department_id = Id(load_default=None, allow_none=True, metadata={
        "description": "With role department only: a department of the community's street or district"})
    contact_name = Text(required=True, validate=validate.Length(min=1, max=50))
    contact_phone = Text(required=True, allow_none=True, validate=validate.Length(max=20), metadata={
        "description": "A mobile or a landline (such as 010-12345678); answered whole to the community's staff only, "
                       "null for others"})


class PartnerSchema(PartnerChangeSchema):
    id = Integer(dump_only=True)
    community_id = Id(required=True)
    contact_phone_masked = fields.String(dump_only=True, allow_none=True)
    created_at = LocalDateTime(dump_only=True)
    updated_at = LocalDateTime(dump_only=True, allow_none=True)


class PartnerListArgs(PageArgs):
    community_id = Id()
    role = fields.String(validate=validate.OneOf(PARTNER_ROLES))


@blp.route("/partners", methods=["POST"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(PartnerSchema)
@blp.response(201, PartnerSchema)
def create_partner(body):
    """Community staff add a partner of the community, with its role and its contact."""
    actor = current_actor()
    return partners.present_one(actor, partners.create_partner(actor, **body))


@blp.route("/partners")
@jwt_required()
@blp.arguments(PartnerListArgs, location="query")
@blp.response(200, page_of(PartnerSchema))
def list_partners(args):
    """The partners of a community, by role (any signed-in user; phones masked but to the community's staff)."""
    actor = current_actor()
    return paginate(partners.list_partners(**filters(args)), args, lambda page: partners.present(actor, page))


@blp.route("/partners/<int:partner_id>")
@jwt_required()
@allowed(require_community_staff)
@blp.response(200, PartnerSchema)
@blp.alt_response(404, description="Missing, removed or outside the caller's scope (partner_not_found)")
def get_partner(partner_id):
    actor = current_actor()
    return partners.present_one(actor, partners.access_partner(actor, partner_id, for_write=False))


@blp.route("/partners/<int:partner_id>", methods=["PATCH"])
@jwt_required()
@allowed(require_community_staff)
@blp.arguments(PartnerChangeSchema(partial=True))
@blp.response(200, PartnerSchema)
@blp.alt_response(404, description="Missing, removed or outside the caller's scope (partner_not_found)")
def update_partner(body, partner_id):
    """Change a partner's name, role, unit, department or contact; the role's rules hold for the result."""
    actor = current_actor()
    return partners.present_one(actor, partners.update_partner(actor, partner_id, **body))


@blp.route("/partners/<int:partner_id>", methods=["DELETE"])
@jwt_required()
@allowed(require_community_staff)
@blp.response(204)
@blp.alt_response(404, description="Missing, removed or outside the caller's scope (partner_not_found)")
def delete_partner(partner_id):
    """Take a partner off the community's list; what was recorded with it keeps its name."""
    partners.remove_partner(current_actor(), partner_id)
