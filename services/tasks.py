"""The tasks meetings give partners (事事有回应): each with an owner partner and a local due date, done once with a
note.

Who: community staff (that community's admins, or staff above it) list and complete their communities' tasks; a
unit's admins those owned by a partner that is their unit. Other roles get 403 ``staff_only``, tasks outside the
caller's reach 404 ``task_not_found``.

``overdue``: still open after its due date has ended (local). ``done`` is one conditional UPDATE on the locked row:
of two completions at once exactly one applies, the other (and any later one) 409 ``invalid_state``. The daily
``remind_overdue_tasks`` tells the community's own staff (and the owner unit's admins) once per task and due date.
"""

from sqlalchemy import false, or_, select, true, update

from clock import local_today, utcnow
from errors import Conflict, NotFound
from extensions import db
from models import MeetingTask, Partner, Region, RoleAssignment
from models.governance import TaskStatus
from services import notifications, partners
from services.authz import communities_within, fetch, require_staff
from services.database import as_dict, update_if, where_given


def _not_found():
    return NotFound("task_not_found", "任务不存在或不在管辖范围内")


def _units_partners(unit_ids):
    return select(Partner.id).where(Partner.unit_id.in_(unit_ids))


def _owned_by_units(actor, task):
    if not actor.unit_ids:
        return False
    unit_id = db.session.scalar(select(Partner.unit_id).where(Partner.id == task.owner_partner_id))
    return unit_id is not None and unit_id in actor.unit_ids


def access_task(actor, task_id, *, for_write):
    """A task, for its community's staff or its owner unit's admins; locked when the caller will change it."""
    require_staff(actor)
    task = fetch(MeetingTask, task_id, _not_found(), lock=for_write)
    if actor.covers_community_id(task.community_id) or _owned_by_units(actor, task):
        return task
    raise _not_found()


def list_tasks(actor, *, community_id=None, status=None, owner_partner_id=None, meeting_id=None):
    """Most urgent first (due date, then id). ``status=overdue``: open and past its due date."""
    require_staff(actor)
    scopes = []
    if actor.is_region_staff:
        communities = communities_within(actor)
        if communities is None:
            scopes.append(true())
        elif community_id is not None:
            # One community: ``community_id =`` reads the page from the index in order.
            scopes.append(MeetingTask.community_id == community_id if community_id in communities else false())
        else:
            scopes.append(MeetingTask.community_id == communities[0] if len(communities) == 1
                          else MeetingTask.community_id.in_(communities))
    if actor.unit_ids:
        scopes.append(MeetingTask.owner_partner_id.in_(_units_partners(actor.unit_ids)))
    query = where_given(select(MeetingTask).where(or_(*scopes)), (MeetingTask.community_id, community_id),
                        (MeetingTask.owner_partner_id, owner_partner_id), (MeetingTask.meeting_id, meeting_id))
    if status == "overdue":
        query = query.where(MeetingTask.status == TaskStatus.OPEN, MeetingTask.due_date < local_today())
    elif status is not None:
        query = query.where(MeetingTask.status == status)
    return query.order_by(MeetingTask.due_date, MeetingTask.id)


def present_task(task, owner_names, today):
    return {**as_dict(task), "owner_name": owner_names.get(task.owner_partner_id),
            "overdue": task.status == TaskStatus.OPEN and task.due_date < today}


def present(tasks):
    """A page of tasks with their owners' names (one query)."""
    names = partners.names(t.owner_partner_id for t in tasks)
    today = local_today()
    return [present_task(task, names, today) for task in tasks]


def present_one(task):
    return present([task])[0]


def complete_task(actor, task_id, *, note):
    """Done, with a note, once."""
    task = access_task(actor, task_id, for_write=True)
    if not update_if(task, MeetingTask.status == TaskStatus.OPEN, status=TaskStatus.DONE, note=note, done_by=actor.id,
                     done_at=utcnow()):
        raise Conflict("invalid_state", "任务已办结")
    return task


def remind_overdue(today=None):
    """Daily: each task still open after its due date tells the community's own staff (its community admins) and the
    admins of the owner partner's unit, once (marked on the task, keyed per due date)."""
    today = today or local_today()
    rows = db.session.execute(
        select(MeetingTask.id, MeetingTask.community_id, MeetingTask.title, MeetingTask.due_date,
               Partner.name, Partner.unit_id, Region.name)
        .join(Partner, Partner.id == MeetingTask.owner_partner_id).join(Region, Region.id == MeetingTask.community_id)
        .where(MeetingTask.status == TaskStatus.OPEN, MeetingTask.due_date < today,
               MeetingTask.overdue_notified_at.is_(None)).order_by(MeetingTask.id)).all()
    if not rows:
        return 0
    staff = {}
    for user_id, role, scope_id in db.session.execute(select(
            RoleAssignment.user_id, RoleAssignment.role, RoleAssignment.scope_id).where(or_(
            (RoleAssignment.role == "community_admin") & RoleAssignment.scope_id.in_({r[1] for r in rows}),
            (RoleAssignment.role == "unit_admin") & RoleAssignment.scope_id.in_({r[5] for r in rows if r[5]})))):
        staff.setdefault((role, scope_id), []).append(user_id)
    now = utcnow()
    told = 0
    for task_id, community_id, title, due_date, owner, unit_id, community_name in rows:
        # Conditional, so two schedulers (or a completion meanwhile) never tell twice.
        won = db.session.execute(update(MeetingTask).where(
            MeetingTask.id == task_id, MeetingTask.status == TaskStatus.OPEN,
            MeetingTask.overdue_notified_at.is_(None)).values(overdue_notified_at=now)
            .execution_options(synchronize_session=False)).rowcount == 1
        if not won:
            continue
        recipients = staff.get(("community_admin", community_id), []) + staff.get(("unit_admin", unit_id), [])
        notifications.notify_many([
            {"member_id": user_id, "kind": "task_overdue", "title": f"议定任务逾期未办结：{title}",
             "body": f"{community_name} · 责任方 {owner} · 期限 {due_date.isoformat()}", "ref": f"task:{task_id}",
             "key": f"task:{task_id}:overdue:{due_date.isoformat()}:{user_id}", "created_at": now}
            for user_id in dict.fromkeys(recipients)])
        told += 1
    return told
