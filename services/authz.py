"""Who may do what, answered in one place and always in the contract's order.

Roles and their scopes are the table ``models.user.ROLES``. sysadmin sees everything; a district, street or community
admin sees its region and everything below it (a prefix match on ``Region.path``); a unit admin sees its unit and the
unit's members; a department admin sees the appeals escalated to its department and nothing else (every other staff
gate answers it 403 ``staff_only``: it is neither region nor unit staff); a member sees its own.

Every operation asks its questions in this order, so the same mistake gets the same answer on every resource:

1. 403 the role may not do this at all: ``require_staff``, ``require_region_staff``, ``require_sysadmin``,
   ``require_member`` (the API also asks before it reads the body: ``api.security.allowed``);
2. 422 a body id naming nothing or the wrong kind: ``community_field`` and the other ``*_field`` helpers;
3. 404 the path's object is missing, or it or an object a body id names lies outside the caller's scope:
   ``within_scope`` and each aggregate's ``access_<thing>(actor, id, *, for_write)``, which fetches the row, locks it
   when the caller will change it as its staff, and authorises, in one read;
4. 403 a rule about this object (``own_record``, ``not_claimer``, ...), in the aggregate's service;
5. 409 a state conflict, decided by the database (a conditional UPDATE or a unique index).
"""

from functools import cached_property

from sqlalchemy import bindparam, false, inspect, or_, select, true
from sqlalchemy.orm.attributes import set_committed_value

from errors import Forbidden, NotFound, ValidationFailed
from extensions import db
from models import Region, RoleAssignment, Unit, User
from models.user import ROLES
from services.database import find, valid_id


class Actor:
    """The caller, known by its user id. Its user and its roles are read only when a rule or a view asks: a member's
    check-in needs neither."""

    def __init__(self, user_id, *, has_roles=None, is_member=None):
        self.id = user_id
        if has_roles is False:
            self.roles = []  # the sign-in's query found none (services.auth.LIVE_SIGN_IN): no query for them
        if is_member is not None:
            self.is_member = is_member  # the sign-in's query told it too

    @cached_property
    def user(self):
        user = db.session.get(User, self.id)
        if user is not None and self.__dict__.get("roles") == [] and "roles" not in inspect(user).dict:
            set_committed_value(user, "roles", [])  # known to be none: ``user.roles`` (GET /me) needs no query
        return user

    # What an activity's eligibility criteria read of a member (services.activities.check_eligible), so that the
    # actor stands for its user there: the user is read only when an activity has such a criterion.
    @property
    def political_status(self):
        return self.user.political_status

    @property
    def unit_id(self):
        """The member's own unit (``users.unit_id``), not a unit it administers (``unit_ids``)."""
        return self.user.unit_id

    @cached_property
    def roles(self):
        return list(db.session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == self.id)))

    def scope_ids(self, scope_type):
        """The ids this actor's roles of that scope type are scoped to."""
        return [r.scope_id for r in self.roles if ROLES[r.role].scope_type == scope_type]

    @cached_property
    def is_sysadmin(self):
        return any(r.role == "sysadmin" for r in self.roles)

    @cached_property
    def region_ids(self):
        return self.scope_ids("region")

    @cached_property
    def unit_ids(self):
        return self.scope_ids("unit")

    @cached_property
    def department_ids(self):
        return self.scope_ids("department")

    @property
    def is_department_staff(self):
        return bool(self.department_ids)

    def is_own_staff_of(self, community_id):
        """A community admin of exactly this community (*the community's own staff*; not staff above it)."""
        return community_id in self.region_ids

    @cached_property
    def is_member(self):
        """Signed in through the mini-program (a staff account may also be one)."""
        return self.user.openid is not None

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

    @cached_property
    def own_community_id(self):
        """The one community this actor administers when it covers no other (a community admin of one community);
        else None: a street, district or sysadmin, or someone with two community roles, must name one."""
        if self.is_sysadmin or len(self.region_ids) != 1:
            return None
        region = find(Region, self.region_ids[0])
        return region.id if region is not None and region.kind == "community" else None

    def covers_region(self, region):
        return self.is_sysadmin or any(region.path.startswith(p) for p in self.region_paths)

    @cached_property
    def _covered(self):
        return {}

    def covering(self, region_ids):
        """Those of these region ids that exist and lie within the actor's scope, in one query for the ids not asked
        about before (a page of rows from many communities costs one query, not one per row)."""
        wanted = {i for i in region_ids if valid_id(i) and i not in self._covered}
        if wanted and (self.is_sysadmin or self.region_paths):
            paths = dict(db.session.execute(select(Region.id, Region.path).where(Region.id.in_(wanted))).all())
            for region_id in wanted:
                path = paths.get(region_id)
                self._covered[region_id] = path is not None and (
                    self.is_sysadmin or any(path.startswith(p) for p in self.region_paths))
        return {i for i in region_ids if self._covered.get(i)}

    def covers_community_id(self, community_id):
        return bool(self.covering([community_id]))


# 1. The role may not do this at all (403).

def gate(code):
    """Mark a role gate with the error code it answers (the OpenAPI document lists them)."""

    def mark(function):
        function.code = code
        return function

    return mark


@gate("staff_only")
def require_staff(actor):
    if not actor.is_staff:
        raise Forbidden("staff_only", "仅限工作人员")


@gate("staff_only")
def require_region_staff(actor):
    if not actor.is_region_staff:
        raise Forbidden("staff_only", "仅限街道、社区等工作人员")


@gate("community_staff_only")
def require_community_staff(actor):
    """Region staff (community, street, district or sysadmin): unit and department admins get 403
    ``community_staff_only``, as members do."""
    if not actor.is_region_staff:
        raise Forbidden("community_staff_only", "仅限社区及以上工作人员")


@gate("community_staff_only")
def require_appeal_staff(actor):
    """Lists of appeals: community staff and department admins."""
    if not (actor.is_region_staff or actor.is_department_staff):
        raise Forbidden("community_staff_only", "仅限社区工作人员或职能部门")


@gate("department_staff_only")
def require_department_staff(actor):
    if not actor.is_department_staff:
        raise Forbidden("department_staff_only", "仅限被吹哨的职能部门")


@gate("staff_only")
def require_any_staff(actor):
    """Any staff role, a department's admins included."""
    if not (actor.is_staff or actor.is_department_staff):
        raise Forbidden("staff_only", "仅限工作人员")


@gate("sysadmin_only")
def require_sysadmin(actor):
    if not actor.is_sysadmin:
        raise Forbidden("sysadmin_only", "仅限系统管理员")


@gate("members_only")
def require_member(actor, message="请使用小程序成员账号"):
    if not actor.is_member:
        raise Forbidden("members_only", message)


# 2. A body id naming nothing or the wrong kind (422).

def community_field(community_id, field="community_id"):
    """The community a body field names, or a 422 on that field."""
    region = find(Region, community_id)
    if region is None or region.kind != "community":
        raise ValidationFailed({field: ["社区不存在"]})
    return region


def region_field(region_id, field, kind=None):
    region = find(Region, region_id)
    if region is None or (kind is not None and region.kind != kind):
        raise ValidationFailed({field: ["区域不存在" if kind is None else f"须为一个{kind}"]})
    return region


def row_field(model, row_id, field, message):
    """The row a body field names, or a 422 on that field."""
    row = find(model, row_id)
    if row is None:
        raise ValidationFailed({field: [message]})
    return row


# 3. Outside the caller's scope (404).

def _region_not_found():
    return NotFound("region_not_found", "区域不存在或不在管辖范围内")


def within_scope(actor, region):
    """The region, if the actor administers it or a region above it; else 404."""
    if not actor.covers_region(region):
        raise _region_not_found()
    return region


def staff_of_region(actor, region_id, kind=None):
    """A path's region that region staff administer: 403 for other roles, 404 missing, out of scope or not a
    region of ``kind``."""
    require_region_staff(actor)
    region = find(Region, region_id)
    if region is None or (kind is not None and region.kind != kind):
        raise _region_not_found()
    return within_scope(actor, region)


def staff_of_community(actor, community_id, field="community_id"):
    """The community a body field names, for its staff (or staff above it): 403 for other roles, 422 when the field
    names no community, 404 when it lies outside the caller's scope."""
    require_region_staff(actor)
    return within_scope(actor, community_field(community_id, field))


def fetch(model, row_id, not_found, *, lock=False):
    """The row by id, or ``not_found`` raised. With ``lock`` it is read ``FOR NO KEY UPDATE`` (a no-op on SQLite,
    where a writing transaction already holds the database) and refreshed, so the caller decides on current values
    and every other writer of the row waits for this transaction."""
    row = None
    if valid_id(row_id):
        row = db.session.scalar(_fetching(model, lock), {"row_id": row_id})
    if row is None:
        raise not_found
    return row


# fetch's statements, built once per model and lock with the id a parameter: a sign-up or a claim fetches its row,
# and building the statement afresh cost more CPU than sending it.
_FETCHING = {}


def _fetching(model, lock):
    statement = _FETCHING.get((model, lock))
    if statement is None:
        statement = select(model).where(model.id == bindparam("row_id"))
        if lock:
            statement = statement.with_for_update(key_share=True).execution_options(populate_existing=True)
        _FETCHING[(model, lock)] = statement
    return statement


def access_in_community(actor, model, row_id, not_found, *, for_write, as_staff=None):
    """A row of a community, which anyone signed in may read. ``as_staff`` (implied by ``for_write``): only the
    community's staff (or staff above it) get it, others 403 (not staff) or ``not_found`` (out of scope), as for a
    row that does not exist. ``for_write``: it is locked, because the caller will change it."""
    as_staff = for_write if as_staff is None else as_staff
    if as_staff:
        require_region_staff(actor)
    row = fetch(model, row_id, not_found, lock=for_write)
    if as_staff and not actor.covers_community_id(row.community_id):
        raise not_found
    return row


def access_unit(actor, unit_id, *, for_write, allow_region_staff=True):
    """A unit: anyone signed in reads it; to act for it, its unit admin or (unless excluded) region staff above its
    community; others get 403 (not staff) or 404."""
    not_found = NotFound("unit_not_found", "单位不存在或不在管辖范围内")
    if not for_write:
        return fetch(Unit, unit_id, not_found)
    require_staff(actor)
    unit = fetch(Unit, unit_id, not_found)
    if unit.id in actor.unit_ids or (allow_region_staff and actor.covers_community_id(unit.community_id)):
        return unit
    raise not_found


def access_region(actor, region_id, *, for_write):
    """A region: anyone signed in reads it; to write below it, its staff (or staff above it)."""
    if for_write:
        return staff_of_region(actor, region_id)
    return fetch(Region, region_id, NotFound("region_not_found", "区域不存在"))


# SQL filters for lists within the caller's scope.

def regions_within(paths):
    """A subquery of region ids at or below any of these paths (indexed prefix matches)."""
    return select(Region.id).where(or_(*[Region.path.startswith(p) for p in paths]))


def communities_within(actor):
    """The ids of the communities within the actor's regions, resolved in one query (a street's ten or thirty, a
    district's few hundred); None for a sysadmin, who sees all. A list filters a big table with ``community_id =``
    or ``IN (...)`` constants, which the planner reads from an index, where a subquery would be joined."""
    if actor.is_sysadmin:
        return None
    if not actor.region_paths:
        return []
    return list(db.session.scalars(select(Region.id).where(
        Region.kind == "community", or_(*[Region.path.startswith(p) for p in actor.region_paths]))))


def region_scope(actor, region_column):
    """SQL filter keeping rows whose region lies within the actor's regions."""
    if actor.is_sysadmin:
        return true()
    if not actor.region_paths:
        return false()
    return region_column.in_(regions_within(actor.region_paths))
