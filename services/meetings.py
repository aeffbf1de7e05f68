"""Meetings of a community (五方联席会, 议事协商会, 居民接待日, 听证会): scheduled with an agenda, held with minutes,
decisions (with a vote, if one was taken) and the tasks they give partners; or cancelled.

Who: community staff (that community's admins, or staff above it) schedule, reschedule, record and correct minutes
and cancel; anyone signed in reads meetings. Community staff see everything (agenda, invited partners, attendance,
decisions with their tasks, versions); everyone else what was decided: ``{"id", "community_id", "kind", "title",
"starts_at", "place", "status", "summary", "decisions": [{"text", "votes"}]}``, never who attended.

Moves, on the locked row (of simultaneous writers the first decides, the others see what it left):
scheduled → held (``POST /meetings/{id}/minutes``, once: again → 409 ``invalid_state``) | cancelled (with a
reason). A scheduled meeting may be rescheduled (``PATCH``); a held one's minutes corrected (``PUT .../minutes``
with a reason): a new version, every earlier one kept. A correction rewords decisions and tasks in place, by their
position, and may add more; it keeps every decision and task already recorded (422 otherwise), and tasks keep their
status, note and completion.

Checks, in the contract's order: 422 a body id naming nothing (a partner, a member, an appeal, a need, a project)
→ 404 the meeting (or the body's community) outside the caller's scope → 422 an id not of the meeting's community,
an ``agenda_index`` beyond the agenda (0-based), a task due before the meeting's day → 409.
"""

from datetime import date, timedelta

from sqlalchemy import exists, func, select

from clock import local_days_bounds, local_today, to_local, utcnow, within_local_days
from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from models import (
    AgendaItem,
    Appeal,
    Meeting,
    MeetingDecision,
    MeetingMinutes,
    MeetingTask,
    Need,
    Project,
    Region,
    RoleAssignment,
    User,
)
from models.governance import MeetingStatus, TaskStatus
from services import notifications, partners
from services.accounts import SHOWN_NAME
from services.authz import community_field, fetch, require_community_staff, within_scope
from services.database import add_unique, as_dict, update_if, where_given
from services.tasks import present_task

AGENDA_REFERENCES = (("appeal_id", Appeal, "诉求"), ("need_id", Need, "需求"), ("project_id", Project, "项目"))
REMIND_FROM_DAY = 20


def _not_found():
    return NotFound("meeting_not_found", "会议不存在或不在管辖范围内")


def _invalid_state():
    return Conflict("invalid_state", "当前状态不允许该操作")


def access_meeting(actor, meeting_id, *, for_write, as_staff=None):
    """A meeting: anyone signed in reads it. ``as_staff`` (implied by ``for_write``): only the community's staff
    get it (403 ``community_staff_only`` for other roles, 404 outside their scope); ``for_write``: locked."""
    as_staff = for_write if as_staff is None else as_staff
    if as_staff:
        require_community_staff(actor)
    meeting = fetch(Meeting, meeting_id, _not_found(), lock=for_write)
    if as_staff and not actor.covers_community_id(meeting.community_id):
        raise _not_found()
    return meeting


# Body ids: first that they name something (422), then, once the community is known, that they are its (422).

def _named_rows(model, ids, field, what):
    ids = {i for i in ids if i is not None}
    found = {r.id: r for r in db.session.scalars(select(model).where(model.id.in_(ids)))} if ids else {}
    missing = sorted(ids - set(found))
    if missing:
        raise ValidationFailed({field: [f"{what}不存在：{', '.join(map(str, missing))}"]})
    return found


def _agenda_rows_exist(agenda):
    return {key: _named_rows(model, [item.get(key) for item in agenda], "agenda", what)
            for key, model, what in AGENDA_REFERENCES}


def _agenda_of_community(agenda, found, community_id):
    for n, item in enumerate(agenda):
        for key, _model, what in AGENDA_REFERENCES:
            row = found[key].get(item.get(key))
            if row is not None and row.community_id != community_id:
                raise ValidationFailed({"agenda": [f"第 {n + 1} 项的{what}须属于本社区"]})


def _minutes_rows_exist(attendance, decisions):
    for n, entry in enumerate(attendance):
        # Exactly one key: a partner, a member, or someone by name.
        if len(entry) != 1 or next(iter(entry.values())) is None:
            raise ValidationFailed({"attendance": [f"第 {n + 1} 项须且只能有 partner_id、member_id、name 之一"]})
    partners.named([entry["partner_id"] for entry in attendance if entry.get("partner_id")], "attendance")
    _named_rows(User, [entry.get("member_id") for entry in attendance], "attendance", "成员")
    partners.named([task["owner_partner_id"] for decision in decisions for task in decision.get("tasks") or ()],
                   "decisions")


def _check_minutes(meeting, attendance, decisions, recorded_tasks=None):
    """The minutes' ids are the meeting's community's active partners (or, in a correction, those it names already),
    each decision's ``agenda_index`` within the agenda, each task due no earlier than the meeting's local day."""
    present = [e["partner_id"] for e in meeting.attendance or () if e.get("partner_id")]
    partners.active_partners(meeting.community_id, [e["partner_id"] for e in attendance if e.get("partner_id")],
                             "attendance", kept=present)
    owners = [task["owner_partner_id"] for decision in decisions for task in decision.get("tasks") or ()]
    partners.active_partners(meeting.community_id, owners, "decisions",
                             kept=[t.owner_partner_id for t in (recorded_tasks or {}).values()])
    items = db.session.scalar(select(func.count()).select_from(AgendaItem).where(
        AgendaItem.meeting_id == meeting.id))
    day = to_local(meeting.starts_at).date()
    for n, decision in enumerate(decisions):
        index = decision.get("agenda_index")
        if index is not None and index >= items:
            raise ValidationFailed({"decisions": [
                f"第 {n + 1} 项决定的 agenda_index 超出议程（共 {items} 项，从 0 起）"]})
        for task in decision.get("tasks") or ():
            if task["due_date"] < day:
                raise ValidationFailed({"decisions": [
                    f"第 {n + 1} 项决定的任务期限不能早于会议日期 {day.isoformat()}"]})


# Scheduling.

def _write_agenda(meeting, agenda):
    db.session.execute(AgendaItem.__table__.delete().where(AgendaItem.meeting_id == meeting.id))
    db.session.add_all([AgendaItem(meeting_id=meeting.id, position=n, title=item["title"],
                                   appeal_id=item.get("appeal_id"), need_id=item.get("need_id"),
                                   project_id=item.get("project_id")) for n, item in enumerate(agenda)])
    db.session.flush()


def schedule_meeting(actor, *, community_id, kind, title, starts_at, place, partner_ids=(), agenda=()):
    """Community staff put a meeting on the calendar (``scheduled``); ``starts_at`` may lie in the past (a meeting
    recorded afterwards)."""
    require_community_staff(actor)
    community = community_field(community_id)
    partners.active_partners(community.id, partner_ids, "partner_ids")
    found = _agenda_rows_exist(agenda)
    _agenda_of_community(agenda, found, community.id)
    within_scope(actor, community)
    meeting = Meeting(community_id=community.id, kind=kind, title=title, starts_at=starts_at, place=place,
                      status=MeetingStatus.SCHEDULED, partner_ids=list(dict.fromkeys(partner_ids)), attendance=[],
                      minutes_version=0, decision_count=0, created_by=actor.id)
    db.session.add(meeting)
    db.session.flush()
    _write_agenda(meeting, agenda)
    return meeting


def reschedule_meeting(actor, meeting_id, **changes):
    """A scheduled meeting's title, time, place, invited partners or agenda (409 ``invalid_state`` once held or
    cancelled)."""
    require_community_staff(actor)
    found = _agenda_rows_exist(changes["agenda"]) if "agenda" in changes else None
    partners.named(changes.get("partner_ids") or (), "partner_ids")
    meeting = access_meeting(actor, meeting_id, for_write=True)
    if "partner_ids" in changes:
        partners.active_partners(meeting.community_id, changes["partner_ids"], "partner_ids",
                                 kept=meeting.partner_ids)
        changes["partner_ids"] = list(dict.fromkeys(changes["partner_ids"]))
    agenda = changes.pop("agenda", None)
    if agenda is not None:
        _agenda_of_community(agenda, found, meeting.community_id)
    if meeting.status != MeetingStatus.SCHEDULED:
        raise _invalid_state()
    for field, value in changes.items():
        setattr(meeting, field, value)
    db.session.flush()
    if agenda is not None:
        _write_agenda(meeting, agenda)
    return meeting


def cancel_meeting(actor, meeting_id, *, reason):
    meeting = access_meeting(actor, meeting_id, for_write=True)
    if not update_if(meeting, Meeting.status == MeetingStatus.SCHEDULED, status=MeetingStatus.CANCELLED,
                     cancel_reason=reason, cancelled_at=utcnow()):
        raise _invalid_state()
    return meeting


# Minutes.

def _stored_attendance(attendance):
    return [{"partner_id": e.get("partner_id"), "member_id": e.get("member_id"), "name": e.get("name")}
            for e in attendance]


def _stored_decisions(decisions):
    return [{"agenda_index": d.get("agenda_index"), "text": d["text"], "votes": d.get("votes"),
             "tasks": [{"title": t["title"], "owner_partner_id": t["owner_partner_id"],
                        "due_date": t["due_date"].isoformat()} for t in d.get("tasks") or ()]}
            for d in decisions]


def _add_version(meeting, version, summary, attendance, decisions, reason, actor):
    row = MeetingMinutes(meeting_id=meeting.id, version=version, summary=summary,
                         attendance=_stored_attendance(attendance), decisions=_stored_decisions(decisions),
                         reason=reason, recorded_by=actor.id, recorded_at=utcnow())
    if not add_unique(row):
        raise _invalid_state()


def _recorded(meeting):
    decisions = {d.position: d for d in db.session.scalars(select(MeetingDecision).where(
        MeetingDecision.meeting_id == meeting.id))}
    tasks = {(t.decision_index, t.position): t for t in db.session.scalars(select(MeetingTask).where(
        MeetingTask.meeting_id == meeting.id))}
    return decisions, tasks


def _keeps_what_was_recorded(decisions, recorded_decisions, recorded_tasks):
    if len(decisions) < len(recorded_decisions):
        raise ValidationFailed({"decisions": [f"更正须保留已记录的 {len(recorded_decisions)} 项决定（可修改其内容）"]})
    for (index, position) in recorded_tasks:
        if position >= len(decisions[index].get("tasks") or ()):
            raise ValidationFailed({"decisions": [f"第 {index + 1} 项决定已派发的任务须保留（可修改其内容）"]})


def _apply_decisions(meeting, decisions, recorded_decisions, recorded_tasks):
    """Decisions and tasks by their position: those recorded before are reworded in place (a task keeps its status,
    note and completion), new ones are added."""
    for index, spec in enumerate(decisions):
        votes = spec.get("votes") or {}
        decision = recorded_decisions.get(index) or MeetingDecision(meeting_id=meeting.id, position=index)
        decision.agenda_index, decision.text = spec.get("agenda_index"), spec["text"]
        decision.votes_for, decision.votes_against, decision.votes_abstain = (
            votes.get("for"), votes.get("against"), votes.get("abstain"))
        db.session.add(decision)
        db.session.flush()
        for position, task_spec in enumerate(spec.get("tasks") or ()):
            task = recorded_tasks.get((index, position))
            if task is None:
                task = MeetingTask(community_id=meeting.community_id, meeting_id=meeting.id,
                                   meeting_starts_at=meeting.starts_at, decision_id=decision.id,
                                   decision_index=index, position=position, status=TaskStatus.OPEN)
                db.session.add(task)
            elif task.due_date != task_spec["due_date"]:
                # A new date is a new deadline: overdue again, told again.
                task.overdue_notified_at = None
            task.title, task.owner_partner_id, task.due_date = (
                task_spec["title"], task_spec["owner_partner_id"], task_spec["due_date"])
    db.session.flush()


def record_minutes(actor, meeting_id, *, summary, attendance=(), decisions=()):
    """The minutes of a scheduled meeting, once: it is ``held``. Of simultaneous recordings exactly one applies;
    the others (and any later one) get 409 ``invalid_state``."""
    require_community_staff(actor)
    _minutes_rows_exist(attendance, decisions)
    meeting = access_meeting(actor, meeting_id, for_write=True)
    _check_minutes(meeting, attendance, decisions)
    now = utcnow()
    if not update_if(meeting, Meeting.status == MeetingStatus.SCHEDULED, status=MeetingStatus.HELD, summary=summary,
                     attendance=_stored_attendance(attendance), minutes_version=1, decision_count=len(decisions),
                     held_at=now, minutes_updated_at=now):
        raise _invalid_state()
    _add_version(meeting, 1, summary, attendance, decisions, None, actor)
    _apply_decisions(meeting, decisions, {}, {})
    return meeting


def correct_minutes(actor, meeting_id, *, summary, reason, attendance=(), decisions=()):
    """A held meeting's minutes corrected, with the reason: version n+1, the earlier versions kept."""
    require_community_staff(actor)
    _minutes_rows_exist(attendance, decisions)
    meeting = access_meeting(actor, meeting_id, for_write=True)
    recorded_decisions, recorded_tasks = _recorded(meeting)
    _check_minutes(meeting, attendance, decisions, recorded_tasks)
    _keeps_what_was_recorded(decisions, recorded_decisions, recorded_tasks)
    version = meeting.minutes_version + 1
    if not update_if(meeting, Meeting.status == MeetingStatus.HELD, Meeting.minutes_version == version - 1,
                     summary=summary, attendance=_stored_attendance(attendance), minutes_version=version,
                     decision_count=len(decisions), minutes_updated_at=utcnow()):
        raise _invalid_state()
    _add_version(meeting, version, summary, attendance, decisions, reason, actor)
    _apply_decisions(meeting, decisions, recorded_decisions, recorded_tasks)
    return meeting


def minutes_versions(actor, meeting_id):
    """Every version of a meeting's minutes, the first first (community staff)."""
    meeting = access_meeting(actor, meeting_id, for_write=False, as_staff=True)
    return select(MeetingMinutes).where(MeetingMinutes.meeting_id == meeting.id).order_by(MeetingMinutes.version)


def present_versions(versions):
    partner_names = partners.names(e["partner_id"] for v in versions for e in v.attendance if e.get("partner_id"))
    member_names = _member_names(e["member_id"] for v in versions for e in v.attendance if e.get("member_id"))
    recorders = _member_names(v.recorded_by for v in versions if v.recorded_by)
    return [{**as_dict(v), "attendance": _attendance(v.attendance, partner_names, member_names),
             "decisions": [{**d, "tasks": [{**t, "due_date": date.fromisoformat(t["due_date"])} for t in d["tasks"]]}
                           for d in v.decisions],
             "recorded_by_name": recorders.get(v.recorded_by)} for v in versions]


# Lists and what each viewer is shown.

def list_meetings(*, community_id=None, kind=None, status=None, date_from=None, date_to=None):
    """Anyone signed in: meetings newest first, by community, kind, status and local dates of their start."""
    query = where_given(select(Meeting), (Meeting.community_id, community_id), (Meeting.kind, kind),
                        (Meeting.status, status))
    return query.where(*within_local_days(Meeting.starts_at, date_from, date_to)).order_by(
        Meeting.starts_at.desc(), Meeting.id.desc())


def _member_names(user_ids):
    ids = set(user_ids)
    return dict(db.session.execute(select(User.id, SHOWN_NAME).where(User.id.in_(ids))).all()) if ids else {}


def _attendance(entries, partner_names, member_names):
    return [{"partner_id": e.get("partner_id"), "member_id": e.get("member_id"),
             "name": partner_names.get(e["partner_id"]) if e.get("partner_id")
             else member_names.get(e["member_id"]) if e.get("member_id") else e.get("name")} for e in entries]


def present(actor, meetings):
    """A page of meetings as the caller may see them, in a fixed number of queries: community staff everything,
    everyone else what was decided. Each answer says which (``staff_view``) for the API to choose its schema."""
    if not meetings:
        return []
    covered = actor.covering({m.community_id for m in meetings})
    staff = [m for m in meetings if m.community_id in covered]
    held_ids = [m.id for m in meetings if m.status == MeetingStatus.HELD]
    decisions = {}
    if held_ids:
        for decision in db.session.scalars(select(MeetingDecision).where(MeetingDecision.meeting_id.in_(held_ids))
                                           .order_by(MeetingDecision.meeting_id, MeetingDecision.position)):
            decisions.setdefault(decision.meeting_id, []).append(decision)
    staff_parts = _staff_parts(staff) if staff else None
    shown = []
    for meeting in meetings:
        taken = decisions.get(meeting.id, [])
        if meeting.community_id not in covered:
            shown.append({"staff_view": False, "id": meeting.id, "community_id": meeting.community_id,
                          "kind": meeting.kind, "title": meeting.title, "starts_at": meeting.starts_at,
                          "place": meeting.place, "status": meeting.status, "summary": meeting.summary,
                          "decisions": [{"text": d.text, "votes": d.votes} for d in taken]})
            continue
        agenda, tasks, partner_names, member_names, partner_rows, today = staff_parts
        shown.append({
            **as_dict(meeting), "staff_view": True,
            "partners": [partner_rows[i] for i in meeting.partner_ids if i in partner_rows],
            "agenda": agenda.get(meeting.id, []),
            "attendance": _attendance(meeting.attendance or [], partner_names, member_names),
            "decisions": [{"id": d.id, "index": d.position, "agenda_index": d.agenda_index, "text": d.text,
                           "votes": d.votes,
                           "tasks": [present_task(t, partner_names, today) for t in tasks.get(d.id, [])]}
                          for d in taken],
        })
    return shown


def _staff_parts(meetings):
    ids = [m.id for m in meetings]
    agenda = {}
    for item in db.session.scalars(select(AgendaItem).where(AgendaItem.meeting_id.in_(ids))
                                   .order_by(AgendaItem.meeting_id, AgendaItem.position)):
        agenda.setdefault(item.meeting_id, []).append({"index": item.position, "title": item.title,
                                                       "appeal_id": item.appeal_id, "need_id": item.need_id,
                                                       "project_id": item.project_id})
    tasks = {}
    for task in db.session.scalars(select(MeetingTask).where(MeetingTask.meeting_id.in_(ids))
                                   .order_by(MeetingTask.decision_id, MeetingTask.position)):
        tasks.setdefault(task.decision_id, []).append(task)
    partner_ids = {i for m in meetings for i in m.partner_ids or ()}
    partner_ids |= {e["partner_id"] for m in meetings for e in m.attendance or () if e.get("partner_id")}
    partner_ids |= {t.owner_partner_id for group in tasks.values() for t in group}
    partner_rows = partners.roles_and_names(partner_ids)
    partner_names = {i: row["name"] for i, row in partner_rows.items()}
    member_names = _member_names(e["member_id"] for m in meetings for e in m.attendance or () if e.get("member_id"))
    return agenda, tasks, partner_names, member_names, partner_rows, local_today()


def present_one(actor, meeting):
    return present(actor, [meeting])[0]


# The monthly joint meeting (五方联席会每月至少一次).

def _month_bounds(day):
    first = day.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return local_days_bounds(first, last)


def remind_joint_meeting(today=None):
    """Daily. From the 20th of a local month, each community with no joint meeting scheduled or held in that month
    tells its own staff (its community admins), once per month (the notification's key), also when two schedulers
    run it."""
    today = today or local_today()
    if today.day < REMIND_FROM_DAY:
        return 0
    start, end = _month_bounds(today)
    has_one = exists().where(Meeting.community_id == Region.id, Meeting.kind == "joint",
                             Meeting.status.in_(MeetingStatus.ON_CALENDAR), Meeting.starts_at >= start,
                             Meeting.starts_at < end)
    missing = dict(db.session.execute(select(Region.id, Region.name).where(Region.kind == "community", ~has_one)).all())
    if not missing:
        return 0
    staff = db.session.execute(select(RoleAssignment.user_id, RoleAssignment.scope_id).where(
        RoleAssignment.role == "community_admin", RoleAssignment.scope_id.in_(list(missing)))).all()
    month = f"{today:%Y-%m}"
    now = utcnow()
    notifications.notify_many([
        {"member_id": user_id, "kind": "joint_meeting_missing",
         "title": f"{missing[community_id]}本月尚未安排五方联席会",
         "body": f"五方共建要求每月至少召开一次联席会议，{today.month} 月还没有安排，请尽快召集。",
         "ref": f"community:{community_id}", "key": f"community:{community_id}:joint_meeting_missing:{month}:{user_id}",
         "created_at": now} for user_id, community_id in staff])
    return len({community_id for _user_id, community_id in staff})
