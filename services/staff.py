"""Staff accounts and their roles (the table ``models.user.ROLES``)."""

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from errors import Conflict, ValidationFailed
from extensions import db
from models import Department, Region, RoleAssignment, Unit, User
from models.user import ROLES
from services.accounts import create_account
from services.auth import hash_password
from services.authz import require_region_staff, within_scope
from services.database import find


def _username_taken():
    return Conflict("username_taken", "用户名已被使用（不区分大小写）")


def _new_login(username, password, name, created_by=None):
    """An account that signs in with a password; usernames are unique whatever their case (a unique index on
    ``lower(username)`` decides between simultaneous requests)."""
    if db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        raise _username_taken()
    try:
        with db.session.begin_nested():
            return create_account(username=username, password_hash=hash_password(password), name=name,
                                  created_by=created_by)
    except IntegrityError:
        raise _username_taken() from None


def _scope_region(role, scope_id):
    """The region a new role's scope lies in (for the creator's scope check); 422 when ``scope_id`` names nothing
    of the kind the role takes."""
    if role.scope_type == "region":
        region = find(Region, scope_id)
        if region is None or region.kind != role.region_kind:
            raise ValidationFailed({"scope_id": [f"{role.name} 的范围必须是一个{role.region_kind}"]})
        return region
    if role.scope_type == "department":
        department = find(Department, scope_id)
        if department is None:
            raise ValidationFailed({"scope_id": ["部门不存在"]})
        return db.session.get(Region, department.region_id)
    unit = find(Unit, scope_id)
    if unit is None:
        raise ValidationFailed({"scope_id": ["单位不存在"]})
    return db.session.get(Region, unit.community_id)


def create_staff(actor, *, username, password, name, role, scope_id):
    """An account with a role of ``ROLES`` scoped to a region of the role's kind, to a unit or to a department,
    within the creator's regions (a department's region is its street or district: staff there or above)."""
    require_region_staff(actor)
    role = ROLES[role]
    within_scope(actor, _scope_region(role, scope_id))
    user = _new_login(username, password, name, created_by=actor.id)
    user.roles.append(RoleAssignment(role=role.name, scope_type=role.scope_type, scope_id=scope_id))
    db.session.flush()
    return user


def create_sysadmin(username, password, name=None):
    user = _new_login(username, password, name or username)
    user.roles.append(RoleAssignment(role="sysadmin"))
    db.session.flush()
    return user
