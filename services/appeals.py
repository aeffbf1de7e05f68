"""Residents' appeals (居民诉求), escalation to departments (吹哨报到) and the deadlines of 接诉即办.

Who:
- Any member raises an appeal for any community (``source`` ``app``); community staff (that community's admins or
  staff above it) file one for a resident from the 12345 hotline (with its work order, unique per community after
  trimming: 409 ``duplicate_work_order``), a reception day, a visit or a meeting. Anyone else giving ``source`` gets
  403 ``community_staff_only``.
- The resident (the member who raised it, or the member a staff filing names) sees its own appeals; community staff
  those of their communities; a department admin every appeal ever escalated to its department; everyone else 404.
  Lists are for community staff and department admins (unit admins and members 403 ``community_staff_only``).
- ``anonymous`` hides the resident (``resident: null``, the resident's steps by ``匿名居民``) from everyone but the
  resident and the community's own staff (its community admins, not staff above). No answer carries a whole phone.

Moves, each one conditional UPDATE on the locked row (of two staff at once exactly one applies, the other 409
``invalid_state``): submitted → accepted | rejected | withdrawn (the resident); accepted → escalated | resolved |
rejected; escalated → accepted by the department's answer or the community's recall; resolved → closed when rated
(once: 409 ``already_rated``) or 7×24 h after ``resolved_at`` (``close_resolved``). ``convert`` (from accepted only)
makes a wish, need or project linked both ways; the appeal stays accepted.

Deadlines: ``response_due_at`` = submission + ``APPEAL_RESPONSE_HOURS``; acceptance sets ``due_date`` 7 local days
on, overdue once the local date has ended unresolved (and still after a late resolution); an escalation's
``due_date`` (default 7 days, never before today) is the department's, and a later one moves the appeal's. The
reminder job tells the community's own staff (and the department) once per appeal and deadline.
"""

import re
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, false, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from clock import local_day_start, local_today, to_local, utcnow, within_local_days
from errors import Conflict, Forbidden, NotFound, ValidationFailed
from extensions import db
from models import (
    Appeal,
    AppealDepartment,
    AppealEscalation,
    AppealEvent,
    AppealNumberCounter,
    Department,
    Need,
    Project,
    Region,
    RoleAssignment,
    User,
    Wish,
)
from models.appeal import AppealAction, AppealStatus, EscalationStatus
from services import (
    departments,
    moderation,
    needs,
    notifications,
    pii,
    projects,
    rollups,
    subscriptions,
    uploads,
    wishes,
)
from services.accounts import SHOWN_NAME
from services.authz import (
    communities_within,
    community_field,
    fetch,
    require_appeal_staff,
    require_community_staff,
    require_department_staff,
    require_member,
    row_field,
    within_scope,
)
from services.database import (
    add_unique,
    as_dict,
    contains_text,
    insert_ignoring_conflicts,
    is_sqlite,
    update_if,
    where_given,
)
from services.meeting_links import meetings_about

DUE_DAYS = 7
CLOSE_AFTER = timedelta(days=7)
ANONYMOUS_NAME = "匿名居民"
SYSTEM_NAME = "系统"
# The resident of an appeal whose account was closed (DELETE /me).
CLOSED_RESIDENT_NAME = "已注销"
# A need made from an appeal records where the appeal came from.
NEED_SOURCE = {"app": "online", "hotline": "hotline", "reception": "visit", "visit": "visit", "meeting": "meeting"}
LANDLINE = r"0[0-9]{2,3}-?[0-9]{7,8}"


def _not_found():
    return NotFound("appeal_not_found", "诉求不存在或不在管辖范围内")


def _invalid_state():
    return Conflict("invalid_state", "当前状态不允许该操作")


def _nonempty(field, value):
    if value is None or not value.strip():
        raise ValidationFailed({field: ["不能为空"]})
    return value.strip()


# Who may see and act.

def _escalated_to(department_ids):
    """SQL: the appeal was escalated, at some time, to one of these departments."""
    return Appeal.id.in_(select(AppealDepartment.appeal_id).where(AppealDepartment.department_id.in_(department_ids)))


def _was_escalated_to(actor, appeal):
    if not actor.department_ids:
        return False
    return db.session.scalar(select(AppealDepartment.appeal_id).where(
        AppealDepartment.appeal_id == appeal.id, AppealDepartment.department_id.in_(actor.department_ids))
        .limit(1)) is not None


def access_appeal(actor, appeal_id, *, for_write=False):
    """An appeal. To read: its resident, the community's staff (or staff above), a department it was escalated to;
    404 for everyone else. ``for_write`` (community staff acting on it): 403 ``community_staff_only`` for other
    roles, then the row locked, 404 outside the caller's communities."""
    if for_write:
        require_community_staff(actor)
        appeal = fetch(Appeal, appeal_id, _not_found(), lock=True)
        if not actor.covers_community_id(appeal.community_id):
            raise _not_found()
        return appeal
    appeal = fetch(Appeal, appeal_id, _not_found())
    if appeal.member_id == actor.id or actor.covers_community_id(appeal.community_id) or _was_escalated_to(
            actor, appeal):
        return appeal
    raise _not_found()


def _access_as_resident(actor, appeal_id):
    appeal = access_appeal(actor, appeal_id)
    if appeal.member_id != actor.id:
        raise Forbidden("not_resident", "只有提出诉求的居民可以操作")
    return fetch(Appeal, appeal_id, _not_found(), lock=True)


# Filing.

def next_number(day):
    """The next number of a local date, ``YYYYMMDD-NNNN``: one upsert on the day's counter, so simultaneous filings
    wait for each other there and never share a number."""
    table = AppealNumberCounter.__table__
    insert = (sqlite_insert if is_sqlite() else postgresql_insert)(table).values(day=day, last=1)
    statement = insert.on_conflict_do_update(index_elements=[table.c.day], set_={"last": table.c.last + 1})
    number = db.session.execute(statement.returning(table.c.last)).scalar_one()
    return f"{day:%Y%m%d}-{number:04d}"


def _resident_phone(phone):
    if phone is None:
        return None
    phone = phone.strip()
    if not (pii.is_valid_phone(phone) or re.fullmatch(LANDLINE, phone)):
        raise ValidationFailed({"resident_phone": ["请输入 11 位手机号或固定电话（如 010-12345678）"]})
    return phone


def _filing_fields(actor, *, source, resident_name, resident_phone, work_order_no, member_id):
    """The resident of a staff filing (422 on a wrong field), or of a member's own appeal."""
    if source is None:
        given = [name for name, value in (("resident_name", resident_name), ("resident_phone", resident_phone),
                                          ("work_order_no", work_order_no), ("member_id", member_id))
                 if value is not None]
        if given:
            raise ValidationFailed({name: ["仅工作人员代居民登记时填写"] for name in given})
        user = actor.user
        return {"member_id": actor.id, "resident_name": user.name, "resident_phone": user.phone,
                "work_order_no": None}
    errors = {}
    if resident_name is None or not resident_name.strip():
        errors["resident_name"] = ["请填写居民姓名"]
    if source == "hotline" and (work_order_no is None or not work_order_no.strip()):
        errors["work_order_no"] = ["12345 热线诉求须填写工单号"]
    if source != "hotline" and work_order_no is not None:
        errors["work_order_no"] = ["仅 12345 热线诉求有工单号"]
    if errors:
        raise ValidationFailed(errors)
    phone = _resident_phone(resident_phone)
    if member_id is not None:
        member = row_field(User, member_id, "member_id", "成员不存在")
        if member.openid is None:
            raise ValidationFailed({"member_id": ["须为小程序成员"]})
    return {"member_id": member_id, "resident_name": resident_name.strip(), "resident_phone": phone,
            "work_order_no": work_order_no.strip() if work_order_no is not None else None}


def submit(actor, *, community_id, kind, title, content, photo_ids=(), location=None, anonymous=False,
           source=None, resident_name=None, resident_phone=None, work_order_no=None, member_id=None):
    """A member's appeal (``source`` absent: ``app``), or a staff filing for a resident."""
    if source is None:
        require_member(actor, "请在小程序中提交诉求；工作人员代登记时请填写 source")
    else:
        require_community_staff(actor)
    title, content = _nonempty("title", title), _nonempty("content", content)
    resident = _filing_fields(actor, source=source, resident_name=resident_name, resident_phone=resident_phone,
                              work_order_no=work_order_no, member_id=member_id)
    community = community_field(community_id)
    photo_ids = uploads.check_attachable(actor, photo_ids)
    if source is not None:
        within_scope(actor, community)
    # Staff text is not checked; a member's title and content are (scene 3), after every cheaper check.
    held = moderation.screen(actor.user if source is None else None, {"title": title, "content": content},
                             moderation.SCENE_POST)
    now = utcnow()
    location = location or {}
    appeal = Appeal(number=next_number(to_local(now).date()), community_id=community.id, kind=kind, title=title,
                    content=content, address=location.get("address"), lat=location.get("lat"),
                    lng=location.get("lng"), anonymous=bool(anonymous), source=source or "app",
                    status=AppealStatus.SUBMITTED, created_by=actor.id, created_at=now,
                    response_due_at=now + timedelta(hours=current_app.config["APPEAL_RESPONSE_HOURS"]), **resident)
    if not add_unique(appeal):
        raise Conflict("duplicate_work_order", "该社区已登记过这个 12345 工单号")
    rollups.appeal_received(appeal)
    uploads.attach(actor, photo_ids, appeal)
    _log(appeal, AppealAction.SUBMITTED, actor.id, "resident" if source is None else "staff")
    if held:
        moderation.hold(community.id, "appeal", appeal.id, {f: {"title": title, "content": content}[f] for f in held},
                        actor.id)
    _tell_community(appeal, "appeal_submitted", f"新的居民诉求：{appeal.title}", f"编号 {appeal.number}",
                    key=f"appeal:{appeal.id}:submitted")
    return appeal


# Moves.

def _log(appeal, action, actor_id, role, note=None, department_id=None, at=None):
    db.session.add(AppealEvent(appeal_id=appeal.id, action=action, actor_id=actor_id, actor_role=role, note=note,
                               department_id=department_id, at=at or utcnow()))
    db.session.flush()


def _due(day):
    """A local date and the UTC instant it ends."""
    return {"due_date": day, "due_at": local_day_start(day + timedelta(days=1))}


def forget_resident(member_id):
    """A closed account's appeals keep their content for the community's work; the resident shows as 已注销 and
    its phone is gone."""
    db.session.execute(update(Appeal).where(Appeal.member_id == member_id)
                       .values(resident_name=CLOSED_RESIDENT_NAME, resident_phone=None)
                       .execution_options(synchronize_session=False))


def accept(actor, appeal_id):
    """受理: community staff take a submitted appeal on; it is due 7 local days later."""
    appeal = access_appeal(actor, appeal_id, for_write=True)
    now = utcnow()
    if not update_if(appeal, Appeal.status == AppealStatus.SUBMITTED, status=AppealStatus.ACCEPTED, accepted_at=now,
                     responded_at=now, **_due(to_local(now).date() + timedelta(days=DUE_DAYS))):
        raise _invalid_state()
    _log(appeal, AppealAction.ACCEPTED, actor.id, "staff")
    _tell_resident(appeal, "appeal_accepted", f"您的诉求已受理：{appeal.title}",
                   f"办理期限 {appeal.due_date.isoformat()}")
    _push_to_resident(appeal, "appeal_decided", {"number": appeal.number, "title": appeal.title, "result": "已受理",
                                                 "reason": f"办理期限 {appeal.due_date.isoformat()}"})
    return appeal


def reject(actor, appeal_id, *, reason, duplicate_of=None):
    """Not the community's business, or a duplicate of another appeal number of the same community."""
    reason = _nonempty("reason", reason)
    if duplicate_of is not None and db.session.scalar(
            select(Appeal.id).where(Appeal.number == duplicate_of)) is None:
        raise ValidationFailed({"duplicate_of": ["诉求编号不存在"]})
    appeal = access_appeal(actor, appeal_id, for_write=True)
    if duplicate_of is not None and (duplicate_of == appeal.number or db.session.scalar(select(Appeal.id).where(
            Appeal.number == duplicate_of, Appeal.community_id == appeal.community_id)) is None):
        raise ValidationFailed({"duplicate_of": ["须为本社区另一件诉求的编号"]})
    now = utcnow()
    if not update_if(appeal, Appeal.status.in_(AppealStatus.REJECTABLE), status=AppealStatus.REJECTED,
                     reject_reason=reason, duplicate_of=duplicate_of, ended_at=now,
                     responded_at=func.coalesce(Appeal.responded_at, now)):
        raise _invalid_state()
    _log(appeal, AppealAction.REJECTED, actor.id, "staff", reason)
    _tell_resident(appeal, "appeal_rejected", f"您的诉求未予受理：{appeal.title}", reason)
    _push_to_resident(appeal, "appeal_decided", {"number": appeal.number, "title": appeal.title,
                                                 "result": "未予受理", "reason": reason})
    return appeal


def withdraw(actor, appeal_id):
    """The resident takes back an appeal not yet answered."""
    appeal = _access_as_resident(actor, appeal_id)
    if not update_if(appeal, Appeal.status == AppealStatus.SUBMITTED, status=AppealStatus.WITHDRAWN,
                     ended_at=utcnow()):
        raise _invalid_state()
    _log(appeal, AppealAction.WITHDRAWN, actor.id, "resident")
    return appeal


def resolve(actor, appeal_id, *, reply):
    """办结, with a reply to the resident."""
    reply = _nonempty("reply", reply)
    appeal = access_appeal(actor, appeal_id, for_write=True)
    now = utcnow()
    if not update_if(appeal, Appeal.status == AppealStatus.ACCEPTED, status=AppealStatus.RESOLVED, reply=reply,
                     resolved_at=now, ended_at=now):
        raise _invalid_state()
    _log(appeal, AppealAction.RESOLVED, actor.id, "staff", reply)
    _tell_resident(appeal, "appeal_resolved", f"您的诉求已办结：{appeal.title}", reply)
    _push_to_resident(appeal, "appeal_answered", {"number": appeal.number, "title": appeal.title, "reply": reply})
    return appeal


def escalate(actor, appeal_id, *, department_id, note, due_date=None):
    """吹哨: an accepted appeal goes to a department of the community's street or district, due by ``due_date``
    (default 7 days); a later date also moves the appeal's own."""
    note = _nonempty("note", note)
    today = local_today()
    if due_date is not None and due_date < today:
        raise ValidationFailed({"due_date": ["不能早于今天"]})
    departments.row_exists(department_id)
    appeal = access_appeal(actor, appeal_id, for_write=True)
    department = departments.escalation_target(db.session.get(Region, appeal.community_id), department_id)
    due_date = due_date or today + timedelta(days=DUE_DAYS)
    now = utcnow()
    moved = _due(due_date) if appeal.due_date is None or due_date > appeal.due_date else {}
    if not update_if(appeal, Appeal.status == AppealStatus.ACCEPTED, status=AppealStatus.ESCALATED,
                     department_id=department.id, escalated_at=func.coalesce(Appeal.escalated_at, now), **moved):
        raise _invalid_state()
    escalation = AppealEscalation(appeal_id=appeal.id, department_id=department.id, note=note, escalated_by=actor.id,
                                  escalated_at=now, status=EscalationStatus.OPEN, **_due(due_date))
    db.session.add(escalation)
    db.session.execute(insert_ignoring_conflicts(AppealDepartment).values(
        department_id=department.id, appeal_id=appeal.id, appeal_created_at=appeal.created_at))
    db.session.flush()
    _log(appeal, AppealAction.ESCALATED, actor.id, "staff", note, department.id)
    for member_id in department_staff_ids(department.id):
        notifications.notify(member_id, "appeal_escalated", f"社区吹哨：{appeal.title}",
                             f"编号 {appeal.number}，请于 {due_date.isoformat()} 前答复", ref=f"appeal:{appeal.id}",
                             key=f"appeal:{appeal.id}:escalation:{escalation.id}:{member_id}")
    return appeal


def _open_escalation(appeal):
    return db.session.scalar(select(AppealEscalation).where(
        AppealEscalation.appeal_id == appeal.id, AppealEscalation.status == EscalationStatus.OPEN)
        .order_by(AppealEscalation.id.desc()).limit(1))


def answer(actor, appeal_id, *, reply, outcome="handled"):
    """报到: the department it is escalated to answers; the appeal is the community's again (``accepted``)."""
    require_department_staff(actor)
    reply = _nonempty("reply", reply)
    appeal = fetch(Appeal, appeal_id, _not_found(), lock=True)
    if not _was_escalated_to(actor, appeal):
        raise _not_found()
    if not update_if(appeal, Appeal.status == AppealStatus.ESCALATED,
                     Appeal.department_id.in_(actor.department_ids), status=AppealStatus.ACCEPTED):
        raise _invalid_state()
    escalation = _open_escalation(appeal)
    escalation.status, escalation.answer, escalation.outcome = EscalationStatus.ANSWERED, reply, outcome
    escalation.answered_by, escalation.answered_at = actor.id, utcnow()
    db.session.flush()
    _log(appeal, AppealAction.ANSWERED, actor.id, "department", reply, escalation.department_id)
    _tell_community(appeal, "appeal_answered", f"部门已答复：{appeal.title}", reply,
                    key=f"appeal:{appeal.id}:escalation:{escalation.id}:answered")
    return appeal


def recall(actor, appeal_id, *, reason):
    """The community takes an escalation back before the department answers."""
    reason = _nonempty("reason", reason)
    appeal = access_appeal(actor, appeal_id, for_write=True)
    if not update_if(appeal, Appeal.status == AppealStatus.ESCALATED, status=AppealStatus.ACCEPTED):
        raise _invalid_state()
    escalation = _open_escalation(appeal)
    escalation.status, escalation.recall_reason, escalation.recalled_at = EscalationStatus.RECALLED, reason, utcnow()
    db.session.flush()
    _log(appeal, AppealAction.RECALLED, actor.id, "staff", reason, escalation.department_id)
    return appeal


def rate(actor, appeal_id, *, score, comment=None, via=None):
    """The resident's score of a resolved appeal, once; it closes the appeal. For a staff filing that names no
    member, community staff record the score the resident gave by phone or at a visit."""
    appeal = access_appeal(actor, appeal_id)
    if appeal.member_id is not None:
        if appeal.member_id != actor.id:
            raise Forbidden("not_resident", "只有提出诉求的居民可以评价")
        via = "app"
        author = actor.user
    else:
        require_community_staff(actor)
        if via not in ("phone", "visit"):
            raise ValidationFailed({"via": ["代居民评价须注明 phone 或 visit"]})
        author = None
    appeal = fetch(Appeal, appeal_id, _not_found(), lock=True)
    if appeal.rating_score is not None:
        raise Conflict("already_rated", "该诉求已评价")
    if appeal.status != AppealStatus.RESOLVED:
        raise _invalid_state()
    comment = comment.strip() if comment and comment.strip() else None
    held = moderation.screen(author, {"rating_comment": comment}, moderation.SCENE_COMMENT)
    now = utcnow()
    if not update_if(appeal, Appeal.status == AppealStatus.RESOLVED, Appeal.rating_score.is_(None),
                     status=AppealStatus.CLOSED, closed_at=now, rating_score=score, rating_comment=comment,
                     rating_via=via, rated_by=actor.id, rated_at=now):
        raise Conflict("already_rated", "该诉求已评价") if appeal.rating_score is not None else _invalid_state()
    _log(appeal, AppealAction.RATED, actor.id, "resident" if via == "app" else "staff", comment, at=now)
    _log(appeal, AppealAction.CLOSED, actor.id, "resident" if via == "app" else "staff", at=now)
    if held:
        moderation.hold(appeal.community_id, "appeal", appeal.id, {"rating_comment": comment}, actor.id)
    return appeal


def convert(actor, appeal_id, *, to, **fields):
    """An accepted appeal becomes a wish, a need or a project of its community, linked both ways; it stays
    accepted. A need's source follows the appeal's; a wish from an anonymous appeal never names the resident."""
    appeal = access_appeal(actor, appeal_id, for_write=True)
    if fields.pop("community_id", appeal.community_id) != appeal.community_id:
        raise ValidationFailed({"community_id": ["须为诉求所属社区"]})
    if appeal.status != AppealStatus.ACCEPTED:
        raise _invalid_state()
    title = fields.pop("title", None) or appeal.title
    if to == "wish":
        beneficiary = fields.pop("beneficiary", None) or (
            "社区居民" if appeal.anonymous or not appeal.resident_name else appeal.resident_name)
        made = wishes.post_wish(actor, community_id=appeal.community_id, title=title,
                                description=fields.pop("description", None) or appeal.content,
                                beneficiary=beneficiary, deadline=fields.pop("deadline", None))
    elif to == "need":
        if not fields.get("category"):
            raise ValidationFailed({"category": ["请填写需求类别"]})
        made = needs.create_need(actor, community_id=appeal.community_id, title=title, category=fields["category"],
                                 source=NEED_SOURCE[appeal.source])
    else:
        if not fields.get("need_ids"):
            raise ValidationFailed({"need_ids": ["项目须对应至少一项需求"]})
        made = projects.create_project(actor, community_id=appeal.community_id, title=title,
                                       need_ids=fields["need_ids"], resource_ids=fields.get("resource_ids") or ())
    made.appeal_id = appeal.id
    db.session.flush()
    _log(appeal, AppealAction.CONVERTED, actor.id, "staff", f"{to}:{made.id}")
    return to, made


# Lists.

def _late():
    return func.coalesce(Appeal.responded_at, Appeal.ended_at, utcnow()) > Appeal.response_due_at


def _overdue():
    return and_(Appeal.due_at.is_not(None), func.coalesce(Appeal.ended_at, utcnow()) >= Appeal.due_at)


def list_appeals(actor, *, community_id=None, sort=None, **filters):
    """Community staff: their communities' appeals; a department admin: those escalated to its department.
    Newest first, or by due date."""
    require_appeal_staff(actor)
    if not actor.is_region_staff and len(actor.department_ids) == 1:
        # A department's own list, read newest first from appeal_departments' index and joined to the page.
        query = select(Appeal).join(AppealDepartment, AppealDepartment.appeal_id == Appeal.id).where(
            AppealDepartment.department_id == actor.department_ids[0])
        newest_first = (AppealDepartment.appeal_created_at.desc(), AppealDepartment.appeal_id.desc())
    else:
        scopes = []
        if actor.is_region_staff:
            communities = communities_within(actor)
            if communities is None:
                scopes.append(true())
            elif community_id is not None:
                # One community: ``community_id =`` reads a page newest first straight from the index.
                scopes.append(Appeal.community_id == community_id if community_id in communities else false())
            else:
                scopes.append(Appeal.community_id == communities[0] if len(communities) == 1
                              else Appeal.community_id.in_(communities))
        if actor.department_ids:
            scopes.append(_escalated_to(actor.department_ids))
        query = select(Appeal).where(or_(*scopes))
        newest_first = (Appeal.created_at.desc(), Appeal.id.desc())
    query = _filtered(query.where(*([Appeal.community_id == community_id] if community_id is not None else [])),
                      **filters)
    if sort == "due_date":
        return query.order_by(Appeal.due_date.is_(None), Appeal.due_date, Appeal.id.desc())
    return query.order_by(*newest_first)


def _filtered(query, *, status=None, kind=None, source=None, overdue=None, late=None, q=None, date_from=None,
              date_to=None, department_id=None):
    query = where_given(query, (Appeal.status, status), (Appeal.kind, kind), (Appeal.source, source))
    if overdue is not None:
        query = query.where(_overdue() if overdue else ~_overdue())
    if late is not None:
        query = query.where(_late() if late else ~_late())
    if q:
        query = query.where(or_(Appeal.number == q, contains_text(Appeal.title, q)))
    query = query.where(*within_local_days(Appeal.created_at, date_from, date_to))
    if department_id is not None:
        query = query.where(_escalated_to([department_id]))
    return query


def my_appeals(actor, *, status=None):
    query = select(Appeal).where(Appeal.member_id == actor.id).order_by(Appeal.created_at.desc(), Appeal.id.desc())
    return where_given(query, (Appeal.status, status))


# What each viewer is shown.

def _latest_escalations(appeal_ids):
    latest = {}
    for escalation in db.session.scalars(select(AppealEscalation).where(
            AppealEscalation.appeal_id.in_(appeal_ids)).order_by(AppealEscalation.id)):
        latest[escalation.appeal_id] = escalation
    return latest


def _linked(appeal_ids):
    linked = {i: [] for i in appeal_ids}
    for kind, model in (("wish", Wish), ("need", Need), ("project", Project)):
        for appeal_id, row_id in db.session.execute(select(model.appeal_id, model.id).where(
                model.appeal_id.in_(appeal_ids)).order_by(model.id)):
            linked[appeal_id].append({"type": kind, "id": row_id})
    return linked


def is_late(appeal, now=None):
    return (appeal.responded_at or appeal.ended_at or now or utcnow()) > appeal.response_due_at


def is_overdue(appeal, now=None):
    return appeal.due_at is not None and (appeal.ended_at or now or utcnow()) >= appeal.due_at


def present(viewer, appeals, *, timeline=False):
    """A page of appeals as ``viewer`` may see them, in a fixed number of queries whatever the page's size."""
    if not appeals:
        return []
    ids = [a.id for a in appeals]
    now = utcnow()
    escalations = _latest_escalations(ids)
    department_names = dict(db.session.execute(select(Department.id, Department.name).where(
        Department.id.in_({e.department_id for e in escalations.values()}))).all()) if escalations else {}
    covered = viewer.covering({a.community_id for a in appeals})
    photos = uploads.photos_of(viewer, appeals)
    in_review = moderation.under_review("appeal", ids)
    linked = _linked(ids)
    events = _timelines(viewer, appeals, covered) if timeline else {}
    # The meetings with it on their agenda (议事协商), shown with the timeline.
    meetings = meetings_about("appeal", ids) if timeline else {}
    shown = []
    for appeal in appeals:
        staff = appeal.community_id in covered
        resident_view = appeal.member_id == viewer.id and not staff
        sees_resident = not appeal.anonymous or appeal.member_id == viewer.id or viewer.is_own_staff_of(
            appeal.community_id)
        escalation = escalations.get(appeal.id)
        item = {
            **as_dict(appeal),
            "location": appeal.location,
            "photos": photos[appeal.id],
            "resident": {"member_id": appeal.member_id, "name": appeal.resident_name,
                         "phone_masked": pii.mask_phone(appeal.resident_phone)} if sees_resident else None,
            "late_for_response": is_late(appeal, now),
            "overdue": is_overdue(appeal, now),
            "escalation": None if escalation is None else {
                "department_id": escalation.department_id,
                "department_name": department_names.get(escalation.department_id),
                "due_date": escalation.due_date,
                # Notes and answers are for staff and the department, not the resident.
                "note": None if resident_view else escalation.note,
                "answer": None if resident_view else escalation.answer,
                "outcome": None if resident_view else escalation.outcome,
                "status": escalation.status,
            },
            "rating": None if appeal.rating_score is None else {
                "score": appeal.rating_score, "comment": appeal.rating_comment, "via": appeal.rating_via,
                "at": appeal.rated_at},
            "linked": linked[appeal.id],
            "moderation": "review" if appeal.id in in_review else None,
        }
        if timeline:
            item["timeline"] = events[appeal.id]
            item["meetings"] = meetings[appeal.id]
        shown.append(item)
    return shown


def present_one(viewer, appeal):
    return present(viewer, [appeal], timeline=True)[0]


def _timelines(viewer, appeals, covered):
    ids = [a.id for a in appeals]
    rows = list(db.session.scalars(select(AppealEvent).where(AppealEvent.appeal_id.in_(ids))
                                   .order_by(AppealEvent.appeal_id, AppealEvent.id)))
    names = dict(db.session.execute(select(User.id, SHOWN_NAME).where(
        User.id.in_({r.actor_id for r in rows if r.actor_id}))).all())
    departments_named = dict(db.session.execute(select(Department.id, Department.name).where(
        Department.id.in_({r.department_id for r in rows if r.department_id}))).all())
    community_names = dict(db.session.execute(select(Region.id, Region.name).where(
        Region.id.in_({a.community_id for a in appeals}))).all())
    by_id = {a.id: a for a in appeals}
    timelines = {i: [] for i in ids}
    for event in rows:
        appeal = by_id[event.appeal_id]
        resident_view = appeal.member_id == viewer.id and appeal.community_id not in covered
        if resident_view and event.action not in AppealAction.SHOWN_TO_RESIDENT:
            continue
        sees_resident = not appeal.anonymous or appeal.member_id == viewer.id or viewer.is_own_staff_of(
            appeal.community_id)
        if event.actor_role == "resident":
            name = (appeal.resident_name or names.get(event.actor_id)) if sees_resident else ANONYMOUS_NAME
        elif event.actor_role == "system":
            name = SYSTEM_NAME
        elif resident_view:
            name = community_names.get(appeal.community_id)
        elif event.actor_role == "department":
            name = departments_named.get(event.department_id)
        else:
            name = names.get(event.actor_id)
        timelines[event.appeal_id].append({"action": event.action, "actor_name": name, "at": event.at,
                                           "note": event.note})
    return timelines


def present_converted(actor, to, made):
    if to == "wish":
        return wishes.present_one(actor, made)
    return made


# Who is told, and the jobs.

def community_staff_ids(community_id):
    """The community's own staff (its community admins): they are told of new, late and overdue appeals."""
    return list(db.session.scalars(select(RoleAssignment.user_id).where(
        RoleAssignment.role == "community_admin", RoleAssignment.scope_id == community_id)))


def department_staff_ids(department_id):
    return list(db.session.scalars(select(RoleAssignment.user_id).where(
        RoleAssignment.role == "department_admin", RoleAssignment.scope_id == department_id)))


def _tell_community(appeal, kind, title, body, key):
    for member_id in community_staff_ids(appeal.community_id):
        notifications.notify(member_id, kind, title, body, ref=f"appeal:{appeal.id}", key=f"{key}:{member_id}")


def _tell_resident(appeal, kind, title, body):
    if appeal.member_id is not None:
        notifications.notify(appeal.member_id, kind, title, body, ref=f"appeal:{appeal.id}",
                             key=f"appeal:{appeal.id}:{kind}")


def _push_to_resident(appeal, event, values):
    """A WeChat subscribe message to the resident, when a template is configured for ``event`` and the resident
    holds a grant (services/subscriptions.py)."""
    if appeal.member_id is not None:
        subscriptions.push(appeal.member_id, event, appeal.id, {"id": appeal.id, **values},
                           page=f"pages/appeals/detail?id={appeal.id}")


def _flag(model, row_id, column, *conditions):
    """Set a reminder's mark once: of two schedulers, or two runs, only one gets True."""
    result = db.session.execute(update(model).where(model.id == row_id, column.is_(None), *conditions)
                                .values({column.key: utcnow()}).execution_options(synchronize_session=False))
    return result.rowcount == 1


def remind_overdue(now=None):
    """Every 10 minutes: the community's own staff are told once when an appeal becomes late for response, once
    when it becomes overdue (the department too, while it is escalated), and the department and the community once
    when an escalation passes its due date."""
    now = now or utcnow()
    told = {"late": 0, "overdue": 0, "escalations": 0}
    late = db.session.execute(select(Appeal.id, Appeal.community_id, Appeal.number, Appeal.title).where(
        Appeal.status == AppealStatus.SUBMITTED, Appeal.response_due_at <= now, Appeal.late_notified_at.is_(None))
        .order_by(Appeal.id)).all()
    for appeal in late:
        if _flag(Appeal, appeal.id, Appeal.late_notified_at, Appeal.status == AppealStatus.SUBMITTED):
            _tell_community(appeal, "appeal_late", f"诉求超时未响应：{appeal.title}", f"编号 {appeal.number}",
                            key=f"appeal:{appeal.id}:late")
            told["late"] += 1
    overdue = db.session.execute(select(Appeal.id, Appeal.community_id, Appeal.number, Appeal.title, Appeal.status,
                                        Appeal.department_id).where(
        Appeal.status.in_(AppealStatus.IN_WORK), Appeal.due_at <= now, Appeal.overdue_notified_at.is_(None))
        .order_by(Appeal.id)).all()
    for appeal in overdue:
        if not _flag(Appeal, appeal.id, Appeal.overdue_notified_at, Appeal.status.in_(AppealStatus.IN_WORK)):
            continue
        _tell_community(appeal, "appeal_overdue", f"诉求逾期未办结：{appeal.title}", f"编号 {appeal.number}",
                        key=f"appeal:{appeal.id}:overdue")
        if appeal.status == AppealStatus.ESCALATED:
            for member_id in department_staff_ids(appeal.department_id):
                notifications.notify(member_id, "appeal_overdue", f"诉求逾期未办结：{appeal.title}",
                                     f"编号 {appeal.number}", ref=f"appeal:{appeal.id}",
                                     key=f"appeal:{appeal.id}:overdue:{member_id}")
        told["overdue"] += 1
    escalations = db.session.execute(select(AppealEscalation.id, AppealEscalation.department_id, Appeal.id,
                                            Appeal.community_id, Appeal.number, Appeal.title)
                                     .join(Appeal, Appeal.id == AppealEscalation.appeal_id).where(
        AppealEscalation.status == EscalationStatus.OPEN, AppealEscalation.due_at <= now,
        AppealEscalation.overdue_notified_at.is_(None)).order_by(AppealEscalation.id)).all()
    for escalation_id, department_id, appeal_id, community_id, number, title in escalations:
        if not _flag(AppealEscalation, escalation_id, AppealEscalation.overdue_notified_at,
                     AppealEscalation.status == EscalationStatus.OPEN):
            continue
        key = f"appeal:{appeal_id}:escalation:{escalation_id}:overdue"
        for member_id in department_staff_ids(department_id) + community_staff_ids(community_id):
            notifications.notify(member_id, "appeal_overdue", f"吹哨事项逾期未答复：{title}", f"编号 {number}",
                                 ref=f"appeal:{appeal_id}", key=f"{key}:{member_id}")
        told["escalations"] += 1
    return told


def close_resolved(now=None):
    """Resolved appeals nobody rated are closed 7×24 h after their resolution."""
    now = now or utcnow()
    ids = list(db.session.scalars(select(Appeal.id).where(
        Appeal.status == AppealStatus.RESOLVED, Appeal.resolved_at <= now - CLOSE_AFTER).order_by(Appeal.id)))
    closed = 0
    for appeal_id in ids:
        result = db.session.execute(update(Appeal).where(Appeal.id == appeal_id,
                                                         Appeal.status == AppealStatus.RESOLVED)
                                    .values(status=AppealStatus.CLOSED, closed_at=now)
                                    .execution_options(synchronize_session=False))
        if result.rowcount == 1:
            db.session.add(AppealEvent(appeal_id=appeal_id, action=AppealAction.CLOSED, actor_role="system", at=now))
            closed += 1
    db.session.flush()
    return closed
