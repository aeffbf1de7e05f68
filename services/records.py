"""Service records (服务时长): manual entries, approval, corrections with an append-only history, and totals.

A record is pending until a region admin covering its community approves or rejects it, and nobody decides on a
record of their own hours. Hours never exceed the real span between start and end (a span across midnight counts
its real length). Approval is a conditional update from ``pending``, so of many simultaneous approvals exactly one
applies and points are credited once. A correction needs a reason, is written to the history (who, when, before,
after, why) and, on an approved record, settles the points with one compensating ledger entry.
"""

from decimal import Decimal

from sqlalchemy import bindparam, func, insert, or_, select, update

from clock import local_today, local_year_bounds, to_local, utcnow, within_local_days
from errors import Conflict, Forbidden, NotFound, ValidationFailed
from extensions import db
from models import Activity, CorrectionRequest, RecordChange, Region, RoleAssignment, ServiceRecord, User
from models.activity import CATEGORIES
from models.record import CorrectionStatus, RecordSource, RecordStatus
from models.user import ROLES
from services import moderation, notifications, points, rollups, subscriptions
from services.accounts import SHOWN_NAME
from services.activities import access_activity
from services.authz import (
    access_in_community,
    community_field,
    fetch,
    region_scope,
    require_region_staff,
    require_staff,
    row_field,
    within_scope,
)
from services.database import add_unique, as_dict, update_if, where_given
from services.rollups import Contribution


def span_hours(started_at, ended_at):
    """Hours between two instants, rounded down to 0.01 h."""
    seconds = max(0, int((ended_at - started_at).total_seconds()))
    return Decimal(seconds // 36) / 100


def snapshot(record):
    return {
        "hours": float(record.hours),
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat(),
        "description": record.description,
        "status": record.status,
    }


def log_change(record, actor_id, action, before=None, reason=None):
    """Append one line to the record's history; lines are never updated or deleted."""
    change = RecordChange(record_id=record.id, actor_id=actor_id, action=action, before=before,
                          after=snapshot(record), reason=reason, at=utcnow())
    db.session.add(change)
    db.session.flush()
    return change


def check_span(started_at, ended_at, hours):
    if ended_at <= started_at:
        raise ValidationFailed({"ended_at": ["结束时间必须晚于开始时间"]})
    span = span_hours(started_at, ended_at)
    if Decimal(hours) > span:
        raise ValidationFailed({"hours": [f"不能超过开始至结束的实际时长（{span} 小时）"]})


def _not_found():
    return NotFound("record_not_found", "服务记录不存在")


def visible_to(actor):
    """SQL filter: records in the actor's regions, or of its units' members (unit admins see their members' hours)."""
    conditions = [region_scope(actor, ServiceRecord.community_id)]
    if actor.unit_ids:
        conditions.append(ServiceRecord.member_id.in_(select(User.id).where(User.unit_id.in_(actor.unit_ids))))
    return or_(*conditions)


def _decided_from_above(actor, record):
    """Whether the actor may decide on a record of someone who is staff over its community: only from a region
    strictly above the member's own (a community admin's hours go to the street). Without this rule a community
    admin could make a second account of its own community and approve its own hours with it."""
    rows = db.session.execute(
        select(RoleAssignment.role, Region.path).outerjoin(Region, Region.id == RoleAssignment.scope_id)
        .where(RoleAssignment.user_id == record.member_id)).all()
    if any(role == "sysadmin" for role, _path in rows):
        return actor.is_sysadmin
    community_path = db.session.scalar(select(Region.path).where(Region.id == record.community_id))
    covering = [path for role, path in rows if ROLES[role].scope_type == "region" and path
                and community_path.startswith(path)]
    if not covering:
        return True
    widest = min(covering, key=len)
    return actor.is_sysadmin or any(widest.startswith(path) and path != widest for path in actor.region_paths)


def access_record(actor, record_id, *, for_write):
    """A service record. To read: the member's own, or within the caller's scope (its regions, its units' members).
    To decide on or correct it (``for_write``): region staff covering its community get it locked, never on their
    own hours, and a staff member's hours only from above (403 ``own_record``)."""
    if for_write:
        record = access_in_community(actor, ServiceRecord, record_id, _not_found(), for_write=True)
        if record.member_id == actor.id:
            raise Forbidden("own_record", "不能处理本人的服务记录")
        if not _decided_from_above(actor, record):
            raise Forbidden("own_record", "工作人员本人的服务时长须由上级审核")
        return record
    record = fetch(ServiceRecord, record_id, _not_found())
    if record.member_id == actor.id:
        return record
    if actor.is_staff and db.session.scalar(
            select(ServiceRecord.id).where(ServiceRecord.id == record.id, visible_to(actor))) is not None:
        return record
    raise _not_found()


def _entry_community(actor, activity, community_id):
    """The community a manual entry counts for: the activity's, else the one named, else the caller's own
    community when it covers no other (422 naming ``community_id`` otherwise)."""
    if activity is not None:
        if community_id not in (None, activity.community_id):
            raise ValidationFailed({"community_id": ["与活动所属社区不一致"]})
        return community_field(activity.community_id)
    if community_id is None:
        community_id = actor.own_community_id
        if community_id is None:
            raise ValidationFailed({"community_id": ["请指定社区（管辖多个社区时必须指定）"]})
    return community_field(community_id)


def create_manual(actor, *, member_id, started_at, ended_at, hours, activity_id=None, community_id=None,
                  category=None, description=None):
    """Staff enter hours by hand; the record is pending like any other."""
    require_region_staff(actor)
    member = row_field(User, member_id, "member_id", "成员不存在")
    activity = row_field(Activity, activity_id, "activity_id", "活动不存在") if activity_id is not None else None
    community = _entry_community(actor, activity, community_id)
    check_span(started_at, ended_at, hours)
    within_scope(actor, community)
    record = ServiceRecord(
        member_id=member.id, community_id=community.id, activity_id=activity_id,
        category=category or (activity.category if activity else None), started_at=started_at, ended_at=ended_at,
        hours=hours, description=description, status=RecordStatus.PENDING, source=RecordSource.MANUAL,
        created_by=actor.id, created_at=utcnow())
    db.session.add(record)
    db.session.flush()
    log_change(record, actor.id, "create")
    return record


def list_records(actor, *, community_id=None, member_id=None, status=None, date_from=None, date_to=None):
    """Records within the caller's scope, newest first; ``from``/``to`` are local dates of the start, inclusive."""
    require_staff(actor)
    query = select(ServiceRecord).where(visible_to(actor))
    return filter_records(query, community_id, member_id, status, date_from, date_to).order_by(
        ServiceRecord.started_at.desc(), ServiceRecord.id.desc())


def filter_records(query, community_id=None, member_id=None, status=None, date_from=None, date_to=None):
    query = query.where(*within_local_days(ServiceRecord.started_at, date_from, date_to))
    return where_given(query, (ServiceRecord.community_id, community_id), (ServiceRecord.member_id, member_id),
                       (ServiceRecord.status, status))


def decide(actor, record_id, *, approve, reason=None):
    """Approve or reject a pending record; exactly one of simultaneous decisions applies, points credited once."""
    record = access_record(actor, record_id, for_write=True)
    before = snapshot(record)
    to = RecordStatus.APPROVED if approve else RecordStatus.REJECTED
    if not update_if(record, ServiceRecord.status == RecordStatus.PENDING,
                     status=to, decided_by=actor.id, decided_at=utcnow(), reason=reason):
        raise Conflict("invalid_state", "只能处理待审核的记录")
    log_change(record, actor.id, "approve" if approve else "reject", before, reason)
    if approve:
        rollups.records_changed(added=[Contribution.of(record)])
    points.settle_record(record, "approve" if approve else "reject")
    title = f"服务时长已{'通过' if approve else '被驳回'}：{record.hours} 小时"
    notifications.notify(record.member_id, f"hours_{to}", title, reason, ref=f"record:{record.id}",
                         key=f"record:{record.id}:{to}")
    subscriptions.push(record.member_id, "record_decided", record.id, _decided_values(record, approve, reason),
                       page=f"pages/records/detail?id={record.id}")
    return record


def _staff_members(member_ids):
    """Of these members, those holding a region role or sysadmin: their records need ``_decided_from_above``."""
    region_roles = [role for role, spec in ROLES.items() if spec.scope_type == "region" or role == "sysadmin"]
    return set(db.session.scalars(select(RoleAssignment.user_id).where(
        RoleAssignment.user_id.in_(member_ids), RoleAssignment.role.in_(region_roles))))


def approve_many(actor, *, ids=None, activity_id=None, chunk=1000):
    """One decision for many records: the ``ids`` given (1 to 500), or every pending record of an activity the caller
    covers. Each follows the rules of ``decide``; a record one approval would refuse is skipped with the code it
    would answer: ``record_not_found`` (missing or outside the caller's scope), ``own_record``, ``invalid_state``
    (not pending, also when another approval won it meanwhile). Records are locked in id order, chunk by chunk, so
    simultaneous approvals (bulk or single) of overlapping records wait for each other, never deadlock, and apply
    once. Points, history lines, notifications and the statistics are written set by set: a few statements per
    thousand records, so an activity's 10,000 records are one request."""
    require_region_staff(actor)
    if (ids is None) == (activity_id is None):
        message = ["须给出 ids 或 activity_id 之一（不能都给，也不能都不给）"]
        raise ValidationFailed({"ids": message, "activity_id": message})
    if activity_id is not None:
        row_field(Activity, activity_id, "activity_id", "活动不存在")
        activity = access_activity(actor, activity_id, for_write=False, as_staff=True, community_staff=True)
        wanted = list(db.session.scalars(select(ServiceRecord.id).where(
            ServiceRecord.activity_id == activity.id, ServiceRecord.status == RecordStatus.PENDING)
            .order_by(ServiceRecord.id)))
    else:
        wanted = sorted(set(ids))
    approved, skipped = 0, []
    for start in range(0, len(wanted), chunk):
        part = wanted[start:start + chunk]
        found = list(db.session.scalars(
            select(ServiceRecord).where(ServiceRecord.id.in_(part), region_scope(actor, ServiceRecord.community_id))
            .order_by(ServiceRecord.id).with_for_update(key_share=True).execution_options(populate_existing=True)))
        found_ids = {record.id for record in found}
        skipped += [{"id": record_id, "code": "record_not_found"} for record_id in part if record_id not in found_ids]
        staff_members = _staff_members({record.member_id for record in found})
        approvable = []
        for record in found:
            if record.status != RecordStatus.PENDING:
                skipped.append({"id": record.id, "code": "invalid_state"})
            elif record.member_id == actor.id or (record.member_id in staff_members
                                                  and not _decided_from_above(actor, record)):
                skipped.append({"id": record.id, "code": "own_record"})
            else:
                approvable.append(record)
        _approve_all(actor, approvable)
        approved += len(approvable)
    return {"approved": approved, "skipped": sorted(skipped, key=lambda s: s["id"])}


def _approve_all(actor, part):
    """Approve these locked, pending records with a few statements in all."""
    if not part:
        return
    now = utcnow()
    before = {record.id: snapshot(record) for record in part}
    db.session.execute(
        update(ServiceRecord).where(ServiceRecord.id.in_([r.id for r in part]),
                                    ServiceRecord.status == RecordStatus.PENDING)
        .values(status=RecordStatus.APPROVED, decided_by=actor.id, decided_at=now)
        .execution_options(synchronize_session=False))
    db.session.execute(insert(RecordChange), [
        {"record_id": r.id, "actor_id": actor.id, "action": "approve", "before": before[r.id],
         "after": {**before[r.id], "status": RecordStatus.APPROVED}, "reason": None, "at": now} for r in part])
    points.credit_many([(r.member_id, points.points_for_hours(r.hours), "service_hours", f"record:{r.id}:approve")
                        for r in part])
    notifications.notify_many([
        {"member_id": r.member_id, "kind": "hours_approved", "title": f"服务时长已通过：{r.hours} 小时", "body": None,
         "ref": f"record:{r.id}", "key": f"record:{r.id}:approved", "created_at": now} for r in part])
    rollups.records_changed(added=[Contribution.of(r) for r in part])
    subscriptions.push_many("record_decided", [(r.member_id, r.id, _decided_values(r, True, None),
                                                f"pages/records/detail?id={r.id}") for r in part])
    for record in part:  # the statement changed them behind the session's back
        db.session.expire(record, ["status", "decided_by", "decided_at"])


def _decided_values(record, approve, reason):
    """What a record_decided message may show (WECHAT_TEMPLATES names which of these goes in which key)."""
    return {"id": record.id, "hours": f"{record.hours} 小时", "result": "已通过" if approve else "已驳回",
            "reason": reason or "", "description": record.description or "",
            "date": to_local(record.started_at).strftime("%Y-%m-%d")}


def _check_correctable(record):
    if record.status not in RecordStatus.CORRECTABLE:
        raise Conflict("invalid_state", "已驳回的记录不能更正")


def _apply_correction(actor, record, changes, reason):
    """Change hours (and times, description) of a locked, correctable record, in the history, points settled."""
    started_at = changes.get("started_at") or record.started_at
    ended_at = changes.get("ended_at") or record.ended_at
    hours = changes["hours"] if changes.get("hours") is not None else record.hours
    check_span(started_at, ended_at, hours)
    before, counted = snapshot(record), Contribution.of(record)
    record.started_at, record.ended_at, record.hours = started_at, ended_at, hours
    if "description" in changes:
        record.description = changes["description"]
    db.session.flush()
    change = log_change(record, actor.id, "correct", before, reason)
    if record.status == RecordStatus.APPROVED:
        rollups.records_changed(removed=[counted], added=[Contribution.of(record)])
        points.settle_record(record, f"change:{change.id}")
    notifications.notify(record.member_id, "hours_corrected", f"服务时长已更正：{record.hours} 小时", reason,
                         ref=f"record:{record.id}", key=f"record:{record.id}:change:{change.id}")
    return record


def correct(actor, record_id, *, reason, **changes):
    """A correction by staff in scope of a pending or approved record; a reason is required and nobody corrects
    their own hours."""
    if not any(changes.get(k) is not None for k in ("hours", "started_at", "ended_at", "description")):
        raise ValidationFailed({"hours": ["请填写要更正的时长"]})
    record = access_record(actor, record_id, for_write=True)
    _check_correctable(record)
    return _apply_correction(actor, record, changes, reason)


def history(actor, record_id):
    """Every change of a visible record, oldest first."""
    record = access_record(actor, record_id, for_write=False)
    return select(RecordChange).where(RecordChange.record_id == record.id).order_by(RecordChange.at, RecordChange.id)


def present_changes(changes):
    """A page of history lines with who made each (one query for the page)."""
    ids = {c.actor_id for c in changes if c.actor_id}
    names = dict(db.session.execute(select(User.id, SHOWN_NAME).where(User.id.in_(ids))).all()) if ids else {}
    return [{**as_dict(change), "actor_name": names.get(change.actor_id)} for change in changes]


def request_correction(actor, record_id, *, hours, reason):
    """The record's member asks for a correction; one open request per record."""
    record = access_record(actor, record_id, for_write=False)
    if record.member_id != actor.id:
        raise _not_found()
    if record.status not in RecordStatus.CORRECTABLE:
        raise Conflict("invalid_state", "已驳回的记录不能申请更正")
    check_span(record.started_at, record.ended_at, hours)
    held = moderation.screen(moderation.member_author(actor), {"reason": reason}, moderation.SCENE_COMMENT)
    request = CorrectionRequest(record_id=record.id, member_id=actor.id, hours=hours, reason=reason,
                                status=CorrectionStatus.PENDING, created_at=utcnow())
    if not add_unique(request):
        raise Conflict("correction_pending", "已有待处理的更正申请")
    if held:
        moderation.hold(record.community_id, "correction", request.id, {"reason": reason}, actor.id)
    return present_requests([request])[0]


def present_requests(requests):
    """Correction requests with their ``moderation`` mark (one query for the page)."""
    held = moderation.under_review("correction", [r.id for r in requests])
    return [{**as_dict(r), "moderation": "review" if r.id in held else None} for r in requests]


def _request_for_decision(actor, request_id):
    """A correction request and its record, locked, for staff who may decide on the record."""
    request = fetch(CorrectionRequest, request_id,
                    NotFound("correction_request_not_found", "更正申请不存在"), lock=True)
    return request, access_record(actor, request.record_id, for_write=True)


def _close_request(request, to, actor, decline_reason=None):
    if not update_if(request, CorrectionRequest.status == CorrectionStatus.PENDING,
                     status=to, decided_by=actor.id, decided_at=utcnow(), decline_reason=decline_reason):
        raise Conflict("invalid_state", "该申请已处理")


def accept_request(actor, request_id):
    """Staff accept a member's correction request: it is applied as a correction, in the history. The record is
    checked before the request is closed: on a record rejected meanwhile the request stays pending (409)."""
    request, record = _request_for_decision(actor, request_id)
    _check_correctable(record)
    _close_request(request, CorrectionStatus.ACCEPTED, actor)
    _apply_correction(actor, record, {"hours": request.hours}, f"更正申请 #{request.id}：{request.reason}")
    return request


def decline_request(actor, request_id, *, reason=None):
    request, record = _request_for_decision(actor, request_id)
    _close_request(request, CorrectionStatus.DECLINED, actor, reason)
    notifications.notify(request.member_id, "correction_declined", "服务时长更正申请未通过", reason,
                         ref=f"record:{record.id}", key=f"correction:{request.id}:declined")
    return request


def decline_open_requests(member_id, reason):
    """A closed account's pending correction requests are declined (by no one: the account went)."""
    db.session.execute(update(CorrectionRequest).where(
        CorrectionRequest.member_id == member_id, CorrectionRequest.status == CorrectionStatus.PENDING)
        .values(status=CorrectionStatus.DECLINED, decided_at=utcnow(), decline_reason=reason)
        .execution_options(synchronize_session=False))


def list_requests(actor, *, status=None, community_id=None):
    """Correction requests on records within the caller's scope, oldest first."""
    require_staff(actor)
    query = select(CorrectionRequest).join(ServiceRecord, ServiceRecord.id == CorrectionRequest.record_id).where(
        visible_to(actor)).order_by(CorrectionRequest.created_at, CorrectionRequest.id)
    return where_given(query, (CorrectionRequest.status, status), (ServiceRecord.community_id, community_id))


def my_records(actor, *, status=None, year=None):
    query = where_given(select(ServiceRecord).where(ServiceRecord.member_id == actor.id),
                        (ServiceRecord.status, status))
    if year:
        start, end = local_year_bounds(year)
        query = query.where(ServiceRecord.started_at >= start, ServiceRecord.started_at < end)
    return query.order_by(ServiceRecord.started_at.desc(), ServiceRecord.id.desc())


# Built once (``GET /me/hours`` is among the app's most frequent requests), the member and the year's bounds its
# parameters.
MY_HOURS = (select(ServiceRecord.status, ServiceRecord.category, func.sum(ServiceRecord.hours))
            .where(ServiceRecord.member_id == bindparam("member_id"), ServiceRecord.started_at >= bindparam("start"),
                   ServiceRecord.started_at < bindparam("end"),
                   ServiceRecord.status.in_((RecordStatus.APPROVED, RecordStatus.PENDING)))
            .group_by(ServiceRecord.status, ServiceRecord.category))


def my_hours(actor, *, year=None):
    """Approved and pending hours in a local calendar year, approved hours by category."""
    year = year or local_today().year
    start, end = local_year_bounds(year)
    rows = db.session.execute(MY_HOURS, {"member_id": actor.id, "start": start, "end": end})
    totals = {RecordStatus.APPROVED: Decimal(0), RecordStatus.PENDING: Decimal(0)}
    by_category = {category: Decimal(0) for category in CATEGORIES}
    for status, category, hours in rows:
        hours = Decimal(hours or 0)
        totals[status] += hours
        if status == RecordStatus.APPROVED:
            key = category if category in by_category else "other"
            by_category[key] = by_category.get(key, Decimal(0)) + hours
    return {"year": year, "approved_hours": totals[RecordStatus.APPROVED],
            "pending_hours": totals[RecordStatus.PENDING], "by_category": by_category}
