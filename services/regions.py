"""Regions (district → street → community) and the units that sit in communities."""

from sqlalchemy import select

from errors import Forbidden, ValidationFailed
from extensions import db
from models import Region, Unit
from services.authz import access_region, community_field, region_field, require_region_staff, within_scope
from services.database import contains_text, where_given

PARENT_KIND = {"district": None, "street": "district", "community": "street"}


def create_region(actor, *, name, kind, parent_id=None, **contact):
    """A district has no parent (a sysadmin creates it); a street's parent is a district; a community's a street,
    and the caller administers the parent."""
    wanted_parent = PARENT_KIND[kind]
    if wanted_parent is None:
        if not actor.is_sysadmin:
            raise Forbidden("sysadmin_only", "只有系统管理员可以创建区")
        if parent_id is not None:
            raise ValidationFailed({"parent_id": ["区级区域没有上级"]})
        parent = None
    else:
        require_region_staff(actor)
        if parent_id is None:
            raise ValidationFailed({"parent_id": ["必须指定上级区域"]})
        parent = within_scope(actor, region_field(parent_id, "parent_id", kind=wanted_parent))
    region = Region(name=name, kind=kind, parent_id=parent_id, **contact)
    db.session.add(region)
    db.session.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    return region


def list_regions(*, kind=None, parent_id=None):
    return where_given(select(Region).order_by(Region.id), (Region.kind, kind), (Region.parent_id, parent_id))


def create_unit(actor, *, name, kind, community_id):
    """Region staff over the community register a unit that sits there."""
    require_region_staff(actor)
    within_scope(actor, community_field(community_id))
    unit = Unit(name=name, kind=kind, community_id=community_id)
    db.session.add(unit)
    db.session.flush()
    return unit


def search_units(*, q=None, community_id=None):
    query = select(Unit).order_by(Unit.name, Unit.id)
    if q:
        query = query.where(contains_text(Unit.name, q))
    return where_given(query, (Unit.community_id, community_id))


def get_region(actor, region_id):
    return access_region(actor, region_id, for_write=False)
