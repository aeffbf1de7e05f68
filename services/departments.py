"""Departments (职能部门) of streets and districts, which answer the appeals communities escalate to them (吹哨报到).

Staff of a street or district (or above) create its departments; names are unique per region after trimming (409
``department_name_taken``, decided by the unique constraint). A community escalates to the departments of its street
and of its district, and to no other. Any staff account lists them, department admins included.
"""

from sqlalchemy import select

from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from models import Department, Region
from services.authz import community_field, fetch, region_field, require_any_staff, require_region_staff, within_scope
from services.database import add_unique, find


def _not_found():
    return NotFound("department_not_found", "部门不存在")


def create_department(actor, *, region_id, name):
    require_region_staff(actor)
    region = region_field(region_id, "region_id")
    if region.kind == "community":
        raise ValidationFailed({"region_id": ["部门须属于街道或区"]})
    within_scope(actor, region)
    name = name.strip()
    if not name:
        raise ValidationFailed({"name": ["名称不能为空"]})
    department = Department(region_id=region.id, name=name, created_by=actor.id)
    if not add_unique(department):
        raise Conflict("department_name_taken", "该区域已有同名部门")
    return department


def escalation_region_ids(community):
    """The regions whose departments a community escalates to: its street and its district."""
    return [int(part) for part in community.path.strip("/").split("/")[:-1]]


def list_departments(actor, *, region_id=None, community_id=None):
    require_any_staff(actor)
    query = select(Department).order_by(Department.region_id, Department.id)
    if community_id is not None:
        query = query.where(Department.region_id.in_(escalation_region_ids(community_field(community_id))))
    if region_id is not None:
        query = query.where(Department.region_id == region_id)
    return query


def present(departments):
    names = dict(db.session.execute(select(Region.id, Region.name).where(
        Region.id.in_({d.region_id for d in departments}))).all())
    return [{"id": d.id, "region_id": d.region_id, "region_name": names.get(d.region_id), "name": d.name}
            for d in departments]


def access_department(actor, department_id, *, for_write=False):
    """A department: any staff reads it (404 if missing)."""
    require_any_staff(actor)
    return fetch(Department, department_id, _not_found())


def row_exists(department_id):
    """422 naming ``department_id`` when it names no department."""
    if find(Department, department_id) is None:
        raise ValidationFailed({"department_id": ["部门不存在"]})


def escalation_target(community, department_id):
    """The department a community escalates to: 422 naming ``department_id`` unless it belongs to the community's
    street or district."""
    department = find(Department, department_id)
    if department is None or department.region_id not in escalation_region_ids(community):
        raise ValidationFailed({"department_id": ["须为本社区所在街道或区的部门"]})
    return department
