"""The three lists (三个清单): residents' needs, resources offered by communities and units, and projects that
match needs with resources of the same community.

Needs are ``open`` until a project that lists them is approved (``matched``) and then done (``met``). A project moves
``proposed`` → ``approved`` → ``in_progress`` → ``done`` by community staff, each step one conditional UPDATE
(409 ``invalid_state`` otherwise); a unit admin may claim a project not yet done for its unit, once.
"""

from sqlalchemy import select, update

from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from models import Need, Project, Resource
from services.authz import require_community_admin, require_region_staff, require_unit_admin
from services.clock import utcnow
from services.database import update_if
from services.regions import get_community

NEXT_STEP = {"approve": ("proposed", "approved", "approved_at"),
             "start": ("approved", "in_progress", "started_at"),
             "finish": ("in_progress", "done", "finished_at")}


def _community_staff(actor, community_id):
    """Community staff of that community (or above): 403 for others' roles, 422 not a community, 404 out of scope."""
    require_region_staff(actor)
    get_community(community_id)
    require_community_admin(actor, community_id)


def create_need(actor, community_id, title, category, source):
    _community_staff(actor, community_id)
    need = Need(community_id=community_id, title=title, category=category, source=source, status="open",
                created_by=actor.id)
    db.session.add(need)
    db.session.commit()
    return need


def create_resource(actor, owner_type, owner_id, title, kind, detail=None):
    """A community's staff offer its resources; a unit's admin (or region staff above it) offer the unit's, which
    then serve in the unit's community."""
    if owner_type == "community":
        _community_staff(actor, owner_id)
        community_id = owner_id
    else:
        community_id = require_unit_admin(actor, owner_id).community_id
    resource = Resource(owner_type=owner_type, owner_id=owner_id, community_id=community_id, title=title, kind=kind,
                        detail=detail, status="available", created_by=actor.id)
    db.session.add(resource)
    db.session.commit()
    return resource


def _of_community(model, ids, community_id, field):
    ids = sorted(set(ids))
    rows = list(db.session.scalars(select(model).where(model.id.in_(ids)))) if ids else []
    if len(rows) != len(ids) or any(r.community_id != community_id for r in rows):
        raise ValidationFailed({field: ["须为本社区已有的条目"]})
    return rows


def create_project(actor, community_id, title, need_ids, resource_ids):
    """A project of one community matches at least one of its needs with its resources."""
    _community_staff(actor, community_id)
    needs = _of_community(Need, need_ids, community_id, "need_ids")
    resources = _of_community(Resource, resource_ids, community_id, "resource_ids")
    project = Project(community_id=community_id, title=title, status="proposed", created_by=actor.id,
                      needs=needs, resources=resources)
    db.session.add(project)
    db.session.commit()
    return project


def get_project(project_id):
    project = db.session.get(Project, project_id)
    if project is None:
        raise NotFound("project_not_found", "项目不存在")
    return project


def advance_project(actor, project_id, step):
    """approve, start or finish: community staff of the project's community; one step at a time."""
    project = get_project(project_id)
    require_region_staff(actor)
    if not actor.covers_community_id(project.community_id):
        raise NotFound("project_not_found", "项目不存在或不在管辖范围内")
    from_status, to_status, stamp = NEXT_STEP[step]
    if not update_if(project, Project.status == from_status, status=to_status, **{stamp: utcnow()}):
        raise Conflict("invalid_state", "当前状态不允许该操作")
    need_ids = [n.id for n in project.needs]
    if step == "approve" and need_ids:
        db.session.execute(update(Need).where(Need.id.in_(need_ids), Need.status == "open").values(status="matched"))
    if step == "finish" and need_ids:
        db.session.execute(update(Need).where(Need.id.in_(need_ids)).values(status="met"))
    db.session.commit()
    db.session.refresh(project)
    return project


def claim_project(actor, project_id, unit_id):
    """A unit admin takes a project on for its unit; one unit per project (409 ``already_claimed``)."""
    project = get_project(project_id)
    require_unit_admin(actor, unit_id, allow_region_staff=False)
    if not update_if(project, Project.unit_id.is_(None), Project.status != "done",
                     unit_id=unit_id, claimed_by=actor.id, claimed_at=utcnow()):
        db.session.refresh(project)
        if project.unit_id is not None:
            raise Conflict("already_claimed", "该项目已被单位认领")
        raise Conflict("invalid_state", "项目已完成")
    db.session.commit()
    db.session.refresh(project)
    return project


def _listing(model, community_id=None, status=None, **filters):
    query = select(model).order_by(model.id.desc())
    if community_id is not None:
        query = query.where(model.community_id == community_id)
    if status:
        query = query.where(model.status == status)
    for name, value in filters.items():
        if value is not None:
            query = query.where(getattr(model, name) == value)
    return query


def list_needs(community_id=None, status=None, source=None):
    return _listing(Need, community_id, status, source=source)


def list_resources(community_id=None, status=None, owner_type=None, kind=None):
    return _listing(Resource, community_id, status, owner_type=owner_type, kind=kind)


def list_projects(community_id=None, status=None, unit_id=None):
    return _listing(Project, community_id, status, unit_id=unit_id)
