"""Service records (服务时长): manual entries, approval, corrections with an append-only history, and totals.

A record is pending until a region admin covering its community approves or rejects it, and nobody decides on a
record of their own hours. Hours never exceed the real span between start and end (a span across midnight counts
its real length). Approval is a conditional update from ``pending``, so of many simultaneous approvals exactly one
applies and points are credited once. A correction needs a reason, is written to the history (who, when, before,
after, why) and, on an approved record, settles the points with one compensating ledger entry.
"""

from decimal import Decimal

from sqlalchemy import func, or_, select

from errors import Conflict, Forbidden, NotFound, ValidationFailed
from extensions import db
from models import Activity, CorrectionRequest, RecordChange, ServiceRecord, User
from models.activity import CATEGORIES
from services import notifications, points
from services.authz import region_scope, require_community_admin, require_staff
from services.clock import local_days_bounds, local_today, local_year_bounds, utcnow
from services.database import add_unique, find, update_if
from services.regions import get_community

CORRECTABLE = ("pending", "approved")


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


def get_record(record_id):
    record = find(ServiceRecord, record_id)
    if record is None:
        raise _not_found()
    return record


def visible_to(actor):
    """SQL filter: records in the actor's regions, or of its units' members (unit admins see their members' hours)."""
    conditions = [region_scope(actor, ServiceRecord.community_id)]
    if actor.unit_ids:
        conditions.append(ServiceRecord.member_id.in_(select(User.id).where(User.unit_id.in_(actor.unit_ids))))
    return or_(*conditions)


def get_visible(actor, record_id):
    """The record if it is the caller's own or within the caller's scope; else 404."""
    record = get_record(record_id)
    if record.member_id == actor.id:
        return record
    if actor.is_staff and db.session.scalar(
            select(ServiceRecord.id).where(ServiceRecord.id == record.id, visible_to(actor))) is not None:
        return record
    raise _not_found()


def _managed(actor, record_id):
    """The record for a decision by region staff covering its community; never on one's own hours."""
    record = get_record(record_id)
    require_community_admin(actor, record.community_id)
    if record.member_id == actor.id:
        raise Forbidden("own_record", "不能处理本人的服务记录")
    return record


def create_manual(actor, data):
    """Staff enter hours by hand; the record is pending like any other."""
    member = find(User, data["member_id"])
    if member is None:
        raise ValidationFailed({"member_id": ["成员不存在"]})
    activity = None
    if data.get("activity_id") is not None:
        activity = find(Activity, data["activity_id"])
        if activity is None:
            raise ValidationFailed({"activity_id": ["活动不存在"]})
        if data.get("community_id") not in (None, activity.community_id):
            raise ValidationFailed({"community_id": ["与活动所属社区不一致"]})
        community_id = activity.community_id
    else:
        if data.get("community_id") is None:
            raise ValidationFailed({"community_id": ["没有关联活动时必须指定社区"]})
        community_id = get_community(data["community_id"]).id
    require_community_admin(actor, community_id)
    check_span(data["started_at"], data["ended_at"], data["hours"])
    record = ServiceRecord(
        member_id=member.id, community_id=community_id, activity_id=activity.id if activity else None,
        category=data.get("category") or (activity.category if activity else None),
        started_at=data["started_at"], ended_at=data["ended_at"], hours=data["hours"],
        description=data.get("description"), status="pending", source="manual", created_by=actor.id,
        created_at=utcnow())
    db.session.add(record)
    db.session.flush()
    log_change(record, actor.id, "create")
    db.session.commit()
    return record


def list_records(actor, community_id=None, member_id=None, status=None, date_from=None, date_to=None):
    """Records within the caller's scope, newest first; ``from``/``to`` are local dates of the start, inclusive."""
    require_staff(actor)
    query = select(ServiceRecord).where(visible_to(actor))
    return filter_records(query, community_id, member_id, status, date_from, date_to).order_by(
        ServiceRecord.started_at.desc(), ServiceRecord.id.desc())


def filter_records(query, community_id=None, member_id=None, status=None, date_from=None, date_to=None):
    if community_id is not None:
        query = query.where(ServiceRecord.community_id == community_id)
    if member_id is not None:
        query = query.where(ServiceRecord.member_id == member_id)
    if status:
        query = query.where(ServiceRecord.status == status)
    start, end = local_days_bounds(date_from, date_to)
    if start is not None:
        query = query.where(ServiceRecord.started_at >= start)
    if end is not None:
        query = query.where(ServiceRecord.started_at < end)
    return query


def decide(actor, record_id, approve, reason=None):
    """Approve or reject a pending record; exactly one of simultaneous decisions applies, points credited once."""
    record = _managed(actor, record_id)
    before = snapshot(record)
    to = "approved" if approve else "rejected"
    if not update_if(record, ServiceRecord.status == "pending",
                     status=to, decided_by=actor.id, decided_at=utcnow(), reason=reason):
        raise Conflict("invalid_state", "只能处理待审核的记录")
    log_change(record, actor.id, "approve" if approve else "reject", before, reason)
    points.settle_record(record, "approve" if approve else "reject")
    title = f"服务时长已{'通过' if approve else '被驳回'}：{record.hours} 小时"
    notifications.notify(record.member_id, f"hours_{to}", title, reason, ref=f"record:{record.id}",
                         key=f"record:{record.id}:{to}")
    db.session.commit()
    return record


def _locked(record_id):
    return db.session.scalar(select(ServiceRecord).where(ServiceRecord.id == record_id).with_for_update()
                             .execution_options(populate_existing=True))


def apply_correction(actor, record, changes, reason):
    """Change hours (and times, description) of a pending or approved record, in the history, points settled."""
    record = _locked(record.id)
    if record.status not in CORRECTABLE:
        raise Conflict("invalid_state", "已驳回的记录不能更正")
    started_at = changes.get("started_at") or record.started_at
    ended_at = changes.get("ended_at") or record.ended_at
    hours = changes["hours"] if changes.get("hours") is not None else record.hours
    check_span(started_at, ended_at, hours)
    before = snapshot(record)
    record.started_at, record.ended_at, record.hours = started_at, ended_at, hours
    if "description" in changes:
        record.description = changes["description"]
    db.session.flush()
    change = log_change(record, actor.id, "correct", before, reason)
    if record.status == "approved":
        points.settle_record(record, f"change:{change.id}")
    notifications.notify(record.member_id, "hours_corrected", f"服务时长已更正：{record.hours} 小时", reason,
                         ref=f"record:{record.id}", key=f"record:{record.id}:change:{change.id}")
    return record


def correct(actor, record_id, changes, reason):
    """A correction by staff in scope; a reason is required and nobody corrects their own hours."""
    if not any(changes.get(k) is not None for k in ("hours", "started_at", "ended_at", "description")):
        raise ValidationFailed({"hours": ["请填写要更正的时长"]})
    record = _managed(actor, record_id)
    record = apply_correction(actor, record, changes, reason)
    db.session.commit()
    return record


def history(actor, record_id):
    """Every change of a visible record, oldest first."""
    record = get_visible(actor, record_id)
    return select(RecordChange).where(RecordChange.record_id == record.id).order_by(RecordChange.at, RecordChange.id)


def with_actor_names(changes):
    ids = {c.actor_id for c in changes if c.actor_id}
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}
    for change in changes:
        change.actor_name = names.get(change.actor_id)
    return changes


def request_correction(actor, record_id, hours, reason):
    """The record's member asks for a correction; one open request per record."""
    record = get_record(record_id)
    if record.member_id != actor.id:
        raise _not_found()
    if record.status not in CORRECTABLE:
        raise Conflict("invalid_state", "已驳回的记录不能申请更正")
    check_span(record.started_at, record.ended_at, hours)
    request = CorrectionRequest(record_id=record.id, member_id=actor.id, hours=hours, reason=reason,
                                status="pending", created_at=utcnow())
    if not add_unique(request):
        db.session.rollback()
        raise Conflict("correction_pending", "已有待处理的更正申请")
    db.session.commit()
    return request


def _request_for_decision(actor, request_id):
    request = find(CorrectionRequest, request_id)
    if request is None:
        raise NotFound("correction_request_not_found", "更正申请不存在")
    record = _managed(actor, request.record_id)
    return request, record


def _close_request(request, to, actor, decline_reason=None):
    if not update_if(request, CorrectionRequest.status == "pending",
                     status=to, decided_by=actor.id, decided_at=utcnow(), decline_reason=decline_reason):
        raise Conflict("invalid_state", "该申请已处理")


def accept_request(actor, request_id):
    """Staff accept a member's correction request: it is applied as a correction, in the history."""
    request, record = _request_for_decision(actor, request_id)
    _close_request(request, "accepted", actor)
    apply_correction(actor, record, {"hours": request.hours}, f"更正申请 #{request.id}：{request.reason}")
    db.session.commit()
    return request


def decline_request(actor, request_id, reason):
    request, record = _request_for_decision(actor, request_id)
    _close_request(request, "declined", actor, reason)
    notifications.notify(request.member_id, "correction_declined", "服务时长更正申请未通过", reason,
                         ref=f"record:{record.id}", key=f"correction:{request.id}:declined")
    db.session.commit()
    return request


def list_requests(actor, status=None, community_id=None):
    """Correction requests on records within the caller's scope, oldest first."""
    require_staff(actor)
    query = select(CorrectionRequest).join(ServiceRecord, ServiceRecord.id == CorrectionRequest.record_id).where(
        visible_to(actor)).order_by(CorrectionRequest.created_at, CorrectionRequest.id)
    if status:
        query = query.where(CorrectionRequest.status == status)
    if community_id is not None:
        query = query.where(ServiceRecord.community_id == community_id)
    return query


def my_records(actor, status=None, year=None):
    query = select(ServiceRecord).where(ServiceRecord.member_id == actor.id)
    if status:
        query = query.where(ServiceRecord.status == status)
    if year:
        start, end = local_year_bounds(year)
        query = query.where(ServiceRecord.started_at >= start, ServiceRecord.started_at < end)
    return query.order_by(ServiceRecord.started_at.desc(), ServiceRecord.id.desc())


def my_hours(actor, year=None):
    """Approved and pending hours in a local calendar year, approved hours by category."""
    year = year or local_today().year
    start, end = local_year_bounds(year)
    rows = db.session.execute(
        select(ServiceRecord.status, ServiceRecord.category, func.sum(ServiceRecord.hours))
        .where(ServiceRecord.member_id == actor.id, ServiceRecord.started_at >= start, ServiceRecord.started_at < end,
               ServiceRecord.status.in_(("approved", "pending")))
        .group_by(ServiceRecord.status, ServiceRecord.category))
    totals = {"approved": Decimal(0), "pending": Decimal(0)}
    by_category = {category: Decimal(0) for category in CATEGORIES}
    for status, category, hours in rows:
        hours = Decimal(hours or 0)
        totals[status] += hours
        if status == "approved":
            key = category if category in by_category else "other"
            by_category[key] = by_category.get(key, Decimal(0)) + hours
    return {"year": year, "approved_hours": totals["approved"], "pending_hours": totals["pending"],
            "by_category": by_category}
