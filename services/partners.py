"""A community's partners in co-governance (五方共建, 社会治理合伙人): the party branch, the residents' committee, the
property company, the owners' committee, social organisations, and the departments and units that join them.

- Community staff (that community's admins, or staff above it) add, change and remove partners; anyone signed in
  lists them. A partner's contact is an organisation's public line: ``contact_phone_masked`` for everyone, and
  ``contact_phone`` whole for the community's staff only (null for others). A phone is a mobile or a landline.
- ``role: "unit"`` requires ``unit_id`` (a unit); ``unit_id`` belongs to that role only. A ``department`` partner
  may name its ``department_id``, a department of the community's street or district; no other role names one.
- Removing a partner keeps its row (meetings, tasks and conventions name it): it leaves the community's list, and
  new meetings, tasks and conventions cannot name it (422).
"""

import re

from sqlalchemy import select

from clock import utcnow
from errors import NotFound, ValidationFailed
from extensions import db
from models import Department, Partner, Region, Unit
from services import departments, pii
from services.appeals import LANDLINE
from services.authz import community_field, fetch, require_community_staff, row_field, within_scope
from services.database import as_dict, where_given

EDITABLE = ("name", "role", "unit_id", "department_id", "contact_name", "contact_phone")


def _not_found():
    return NotFound("partner_not_found", "共建方不存在或不在管辖范围内")


def valid_contact_phone(phone):
    """A mobile or a landline, trimmed; else 422 naming ``contact_phone``."""
    phone = phone.strip() if phone else phone
    if not phone or not (pii.is_valid_phone(phone) or re.fullmatch(LANDLINE, phone)):
        raise ValidationFailed({"contact_phone": ["请输入 11 位手机号或固定电话（如 010-12345678）"]})
    return phone


def _body_rows_exist(unit_id, department_id):
    """422 for a body id naming nothing (before the scope's 404)."""
    if unit_id is not None:
        row_field(Unit, unit_id, "unit_id", "单位不存在")
    if department_id is not None:
        row_field(Department, department_id, "department_id", "部门不存在")


def _consistent(community, *, role, unit_id, department_id):
    """The role's rules about ``unit_id`` and ``department_id`` (422 naming the field)."""
    if role == "unit" and unit_id is None:
        raise ValidationFailed({"unit_id": ["共建单位须指定单位"]})
    if role != "unit" and unit_id is not None:
        raise ValidationFailed({"unit_id": ["仅共建单位（role 为 unit）可指定单位"]})
    if department_id is not None:
        if role != "department":
            raise ValidationFailed({"department_id": ["仅职能部门（role 为 department）可指定部门"]})
        departments.escalation_target(community, department_id)


def access_partner(actor, partner_id, *, for_write):
    """A partner of the caller's communities, for their staff: 403 ``community_staff_only`` for other roles, 404
    for a partner missing, removed or outside the caller's scope; locked when the caller will change it."""
    require_community_staff(actor)
    partner = fetch(Partner, partner_id, _not_found(), lock=for_write)
    if partner.removed_at is not None or not actor.covers_community_id(partner.community_id):
        raise _not_found()
    return partner


def create_partner(actor, *, community_id, name, role, contact_name, contact_phone, unit_id=None,
                   department_id=None):
    require_community_staff(actor)
    community = community_field(community_id)
    _body_rows_exist(unit_id, department_id)
    phone = valid_contact_phone(contact_phone)
    _consistent(community, role=role, unit_id=unit_id, department_id=department_id)
    within_scope(actor, community)
    partner = Partner(community_id=community.id, name=name, role=role, unit_id=unit_id, department_id=department_id,
                      contact_name=contact_name, contact_phone=phone, created_by=actor.id)
    db.session.add(partner)
    db.session.flush()
    return partner


def update_partner(actor, partner_id, **changes):
    """Change any of the partner's fields; the role's rules hold for the result."""
    require_community_staff(actor)
    _body_rows_exist(changes.get("unit_id"), changes.get("department_id"))
    if "contact_phone" in changes:
        changes["contact_phone"] = valid_contact_phone(changes["contact_phone"])
    partner = access_partner(actor, partner_id, for_write=True)
    merged = {field: changes.get(field, getattr(partner, field)) for field in EDITABLE}
    # A partner that stops being a unit (or a department) lets go of its unit (or department), unless named anew.
    if merged["role"] != "unit" and "unit_id" not in changes:
        merged["unit_id"] = None
    if merged["role"] != "department" and "department_id" not in changes:
        merged["department_id"] = None
    _consistent(db.session.get(Region, partner.community_id), role=merged["role"], unit_id=merged["unit_id"],
                department_id=merged["department_id"])
    for field, value in merged.items():
        setattr(partner, field, value)
    partner.updated_at = utcnow()
    db.session.flush()
    return partner


def remove_partner(actor, partner_id):
    partner = access_partner(actor, partner_id, for_write=True)
    partner.removed_at = utcnow()
    db.session.flush()


def list_partners(*, community_id=None, role=None):
    """Anyone signed in: the partners of a community (or of every community), by role, oldest first."""
    query = select(Partner).where(Partner.removed_at.is_(None)).order_by(Partner.community_id, Partner.id)
    return where_given(query, (Partner.community_id, community_id), (Partner.role, role))


def present(actor, partners):
    """A page of partners: the whole phone only to the community's staff."""
    covered = actor.covering({p.community_id for p in partners})
    return [{**as_dict(p), "contact_phone_masked": pii.mask_phone(p.contact_phone),
             "contact_phone": p.contact_phone if p.community_id in covered else None} for p in partners]


def present_one(actor, partner):
    return present(actor, [partner])[0]


def named(partner_ids, field):
    """422 naming ``field`` when an id names no partner at all (asked before the scope's 404)."""
    ids = set(partner_ids)
    found = set(db.session.scalars(select(Partner.id).where(Partner.id.in_(ids)))) if ids else set()
    if ids - found:
        raise ValidationFailed({field: [f"共建方不存在：{', '.join(map(str, sorted(ids - found)))}"]})


def active_partners(community_id, partner_ids, field, kept=()):
    """The community's active partners these ids name, in the order given; 422 naming ``field`` when one names no
    partner of the community, or a removed one (unless it is one of ``kept``: named already, as in minutes being
    corrected, it may stay)."""
    ids = list(dict.fromkeys(partner_ids))
    if not ids:
        return []
    kept = set(kept)
    found = {p.id: p for p in db.session.scalars(select(Partner).where(Partner.id.in_(ids)))}
    wrong = [i for i in ids if i not in found or found[i].community_id != community_id
             or (found[i].removed_at and i not in kept)]
    if wrong:
        raise ValidationFailed({field: [f"须为本社区的共建方：{', '.join(map(str, wrong))}"]})
    return [found[i] for i in ids]


def names(partner_ids):
    """Partner names by id (removed partners included: what was recorded names them)."""
    ids = set(partner_ids)
    if not ids:
        return {}
    return dict(db.session.execute(select(Partner.id, Partner.name).where(Partner.id.in_(ids))).all())


def roles_and_names(partner_ids):
    ids = set(partner_ids)
    if not ids:
        return {}
    return {row.id: {"id": row.id, "name": row.name, "role": row.role}
            for row in db.session.execute(select(Partner.id, Partner.name, Partner.role).where(Partner.id.in_(ids)))}
