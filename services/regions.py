"""Regions (district → street → community) and the units that sit in communities."""

from sqlalchemy import select

from errors import Forbidden, NotFound, ValidationFailed
from extensions import db
from models import Region, Unit
from services.authz import require_region_admin
from services.database import find

PARENT_KIND = {"district": None, "street": "district", "community": "street"}


def create_region(actor, name, kind, parent_id=None, **contact):
    """A district has no parent; a street's parent is a district; a community's a street."""
    wanted_parent = PARENT_KIND[kind]
    if wanted_parent is None:
        if parent_id is not None:
            raise ValidationFailed({"parent_id": ["区级区域没有上级"]})
        if not actor.is_sysadmin:
            raise Forbidden("sysadmin_only", "只有系统管理员可以创建区")
        parent = None
    else:
        if parent_id is None:
            raise ValidationFailed({"parent_id": ["必须指定上级区域"]})
        parent = find(Region, parent_id)
        if parent is None or parent.kind != wanted_parent:
            raise ValidationFailed({"parent_id": [f"上级区域必须是{wanted_parent}"]})
        require_region_admin(actor, parent.id)
    region = Region(name=name, kind=kind, parent_id=parent_id, **contact)
    db.session.add(region)
    db.session.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    db.session.commit()
    return region


def list_regions(kind=None, parent_id=None):
    query = select(Region).order_by(Region.id)
    if kind:
        query = query.where(Region.kind == kind)
    if parent_id is not None:
        query = query.where(Region.parent_id == parent_id)
    return query


def get_region(region_id):
    region = find(Region, region_id)
    if region is None:
        raise NotFound("region_not_found", "区域不存在")
    return region


def get_community(community_id, field="community_id"):
    """The community by id, or a 422 on the field that named it."""
    region = find(Region, community_id)
    if region is None or region.kind != "community":
        raise ValidationFailed({field: ["社区不存在"]})
    return region


def create_unit(actor, name, kind, community_id):
    get_community(community_id)
    require_region_admin(actor, community_id)
    unit = Unit(name=name, kind=kind, community_id=community_id)
    db.session.add(unit)
    db.session.commit()
    return unit


def search_units(q=None, community_id=None):
    query = select(Unit).order_by(Unit.name, Unit.id)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Unit.name.ilike(f"%{escaped}%", escape="\\"))
    if community_id is not None:
        query = query.where(Unit.community_id == community_id)
    return query


def get_unit(unit_id):
    unit = find(Unit, unit_id)
    if unit is None:
        raise NotFound("unit_not_found", "单位不存在")
    return unit
