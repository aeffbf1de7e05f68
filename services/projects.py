"""The project list (项目清单): projects that meet needs of a community with its resources.

A project moves ``proposed`` → ``approved`` → ``in_progress`` → ``done`` by community staff, each step one
conditional UPDATE (409 ``invalid_state`` otherwise); approving it matches its needs, finishing it meets them. A unit
admin may claim a project not yet done for its unit, once.

Approval may cite the meeting decision that chose the project (确定项目 after 讨论协商): ``decision_id`` names a
decision (422 otherwise, before the project's 404) of a held meeting of the project's community that had the project
or one of its needs on its agenda (422 otherwise); the project then shows it (``decision_id``).
"""

from sqlalchemy import select, update

from clock import utcnow
from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from models import Need, Project, Resource, Unit
from models.need import NeedStatus
from models.project import ProjectStatus
from services import meeting_links
from services.authz import access_in_community, access_unit, require_staff, row_field, staff_of_community
from services.database import as_dict, update_if, where_given

NEXT_STEP = {"approve": (ProjectStatus.PROPOSED, ProjectStatus.APPROVED, "approved_at"),
             "start": (ProjectStatus.APPROVED, ProjectStatus.IN_PROGRESS, "started_at"),
             "finish": (ProjectStatus.IN_PROGRESS, ProjectStatus.DONE, "finished_at")}


def _not_found():
    return NotFound("project_not_found", "项目不存在或不在管辖范围内")


def access_project(actor, project_id, *, for_write):
    """A project: anyone signed in sees it; to move it on, the community's staff get it locked."""
    return access_in_community(actor, Project, project_id, _not_found(), for_write=for_write)


def _of_community(model, ids, community_id, field):
    ids = sorted(set(ids))
    rows = list(db.session.scalars(select(model).where(model.id.in_(ids)))) if ids else []
    if len(rows) != len(ids) or any(r.community_id != community_id for r in rows):
        raise ValidationFailed({field: ["须为本社区已有的条目"]})
    return rows


def create_project(actor, *, community_id, title, need_ids, resource_ids=()):
    """A project of one community matches at least one of its needs with its resources."""
    staff_of_community(actor, community_id)
    needs = _of_community(Need, need_ids, community_id, "need_ids")
    resources = _of_community(Resource, resource_ids, community_id, "resource_ids")
    project = Project(community_id=community_id, title=title, status=ProjectStatus.PROPOSED, created_by=actor.id,
                      needs=needs, resources=resources)
    db.session.add(project)
    db.session.flush()
    return project


def advance_project(actor, project_id, step, *, decision_id=None):
    """approve, start or finish: community staff of the project's community; one step at a time. An approval may
    cite the decision that chose the project."""
    decision = meeting_links.decision_field(decision_id) if decision_id is not None else None
    project = access_project(actor, project_id, for_write=True)
    cited = {}
    if decision is not None:
        meeting_links.check_decision_chose(decision, project)
        cited = {"decision_id": decision.id}
    from_status, to_status, stamp = NEXT_STEP[step]
    if not update_if(project, Project.status == from_status, status=to_status, **{stamp: utcnow()}, **cited):
        raise Conflict("invalid_state", "当前状态不允许该操作")
    need_ids = project.need_ids
    if step == "approve" and need_ids:
        db.session.execute(update(Need).where(Need.id.in_(need_ids), Need.status == NeedStatus.OPEN)
                           .values(status=NeedStatus.MATCHED))
    if step == "finish" and need_ids:
        db.session.execute(update(Need).where(Need.id.in_(need_ids)).values(status=NeedStatus.MET))
    return project


def claim_project(actor, project_id, *, unit_id):
    """A unit admin takes a project on for its unit; one unit per project (409 ``already_claimed``)."""
    require_staff(actor)
    row_field(Unit, unit_id, "unit_id", "单位不存在")
    project = access_project(actor, project_id, for_write=False)
    access_unit(actor, unit_id, for_write=True, allow_region_staff=False)
    if not update_if(project, Project.unit_id.is_(None), Project.status != ProjectStatus.DONE,
                     unit_id=unit_id, claimed_by=actor.id, claimed_at=utcnow()):
        if project.unit_id is not None:
            raise Conflict("already_claimed", "该项目已被单位认领")
        raise Conflict("invalid_state", "项目已完成")
    return project


def list_projects(*, community_id=None, status=None, unit_id=None):
    return where_given(select(Project).order_by(Project.id.desc()), (Project.community_id, community_id),
                       (Project.status, status), (Project.unit_id, unit_id))


def present_detail(project):
    """A project with the meetings about it (the agenda items naming it) and their decisions on it."""
    return {**as_dict(project), "needs": project.needs, "resources": project.resources,
            "need_ids": project.need_ids, "resource_ids": project.resource_ids,
            "meetings": meeting_links.meetings_about("project", [project.id])[project.id]}
