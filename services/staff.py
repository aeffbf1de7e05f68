"""Staff accounts and their roles."""

from sqlalchemy import select

from errors import Conflict, ValidationFailed
from extensions import db
from models import Region, RoleAssignment, Unit, User
from services.auth import hash_password
from services.authz import REGION_ROLE_KIND, require_region_admin, require_region_staff
from services.database import find
from services.members import volunteer_number_for


def _new_account(username, password, name):
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("username_taken", "用户名已被使用")
    user = User(username=username, password_hash=hash_password(password), name=name,
                unavailable_weekdays=[], unavailable_dates=[])
    db.session.add(user)
    db.session.flush()
    user.volunteer_number = volunteer_number_for(user.id)
    return user


def create_staff(actor, username, password, name, role, scope_id):
    """A region admin for a region of the role's kind, or a unit admin; within the creator's region."""
    require_region_staff(actor)
    if role in REGION_ROLE_KIND:
        region = find(Region, scope_id)
        if region is None or region.kind != REGION_ROLE_KIND[role]:
            raise ValidationFailed({"scope_id": [f"{role} 的范围必须是一个{REGION_ROLE_KIND[role]}"]})
        require_region_admin(actor, region.id)
        scope_type = "region"
    else:
        unit = find(Unit, scope_id)
        if unit is None:
            raise ValidationFailed({"scope_id": ["单位不存在"]})
        require_region_admin(actor, unit.community_id)
        scope_type = "unit"
    user = _new_account(username, password, name)
    user.roles.append(RoleAssignment(role=role, scope_type=scope_type, scope_id=scope_id))
    db.session.commit()
    return user


def create_sysadmin(username, password, name=None):
    user = _new_account(username, password, name or username)
    user.roles.append(RoleAssignment(role="sysadmin"))
    db.session.commit()
    return user
