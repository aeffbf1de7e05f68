"""Roles and scopes, in one place.

sysadmin sees everything; a district, street or community admin sees its region and everything below it
(a prefix match on ``Region.path``); a unit admin sees its unit and the unit's members; a member sees itself.
Out of scope reads as "not found" (404); a caller with no staff role at all is "not allowed" (403).
"""

from functools import cached_property

from sqlalchemy import false, or_, select, true

from errors import Forbidden, NotFound
from extensions import db
from models import Region, RoleAssignment, Unit, User
from services.database import find

REGION_ROLE_KIND = {"district_admin": "district", "street_admin": "street", "community_admin": "community"}


class Actor:
    """The caller, known by its user id. Its user and its roles are read only when a rule or a view asks: a member's
    check-in needs neither."""

    def __init__(self, user_id):
        self.id = user_id

    @cached_property
    def user(self):
        return db.session.get(User, self.id)

    @cached_property
    def roles(self):
        return list(db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == self.id)))

    @cached_property
    def is_sysadmin(self):
        return any(r.role == "sysadmin" for r in self.roles)

    @cached_property
    def region_ids(self):
        return [r.scope_id for r in self.roles if r.role in REGION_ROLE_KIND]

    @cached_property
    def unit_ids(self):
        return [r.scope_id for r in self.roles if r.role == "unit_admin"]

    @property
    def is_region_staff(self):
        return self.is_sysadmin or bool(self.region_ids)

    @property
    def is_staff(self):
        return self.is_region_staff or bool(self.unit_ids)

    @cached_property
    def region_paths(self):
        if not self.region_ids:
            return []
        return list(db.session.scalars(select(Region.path).where(Region.id.in_(self.region_ids))))

    def covers_region(self, region):
        return self.is_sysadmin or any(region.path.startswith(p) for p in self.region_paths)

    def covers_community_id(self, community_id):
        region = find(Region, community_id)
        return region is not None and self.covers_region(region)

    def covers_unit(self, unit):
        return unit.id in self.unit_ids or self.covers_community_id(unit.community_id)


def regions_within(paths):
    """A subquery of region ids at or below any of these paths (indexed prefix matches)."""
    return select(Region.id).where(or_(*[Region.path.startswith(p) for p in paths]))


def region_scope(actor, region_column):
    """SQL filter keeping rows whose region lies within the actor's regions."""
    if actor.is_sysadmin:
        return true()
    if not actor.region_paths:
        return false()
    return region_column.in_(regions_within(actor.region_paths))


def require_staff(actor):
    if not actor.is_staff:
        raise Forbidden("staff_only", "仅限工作人员")


def require_region_staff(actor):
    if not actor.is_region_staff:
        raise Forbidden("staff_only", "仅限街道、社区等工作人员")


def require_region_admin(actor, region_id, kind=None):
    """The region, if the actor administers it or a region above it; kind narrows what the region must be."""
    require_region_staff(actor)
    region = find(Region, region_id)
    if region is None or not actor.covers_region(region):
        raise NotFound("region_not_found", "区域不存在或不在管辖范围内")
    if kind and region.kind != kind:
        raise NotFound("region_not_found", "区域不存在或不在管辖范围内")
    return region


def require_community_admin(actor, community_id):
    return require_region_admin(actor, community_id, kind="community")


def require_unit_admin(actor, unit_id, allow_region_staff=True):
    """The unit, if the actor is its unit admin, or (unless excluded) a region admin above its community."""
    if not actor.is_staff:
        raise Forbidden("staff_only", "仅限工作人员")
    unit = find(Unit, unit_id)
    allowed = unit is not None and (
        unit.id in actor.unit_ids or (allow_region_staff and actor.covers_community_id(unit.community_id))
    )
    if not allowed:
        raise NotFound("unit_not_found", "单位不存在或不在管辖范围内")
    return unit


def require_self_or_staff_over(actor, member, community_ids=()):
    """A member's own data, or a staff member whose scope covers the member's unit or one of the communities."""
    if actor.id == member.id or actor.is_sysadmin:
        return
    if member.unit_id in actor.unit_ids:
        return
    if any(actor.covers_community_id(c) for c in community_ids if c):
        return
    if not actor.is_staff:
        raise Forbidden()
    raise NotFound("member_not_found", "成员不存在或不在管辖范围内")
