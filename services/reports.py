"""Double reporting (双报到): members and units report to a community, which decides and gives yearly feedback.

One pending or approved report per member (and per unit) is a partial unique index: the loser of a race gets 409
``already_reported``. Decisions are conditional updates from ``pending``, so of two simultaneous ones exactly one
applies.
"""

from decimal import Decimal

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Bundle

from clock import local_today, local_year_bounds, to_local, utcnow
from errors import Conflict, Forbidden, NotFound
from extensions import db
from models import Feedback, PointsEntry, Report, ServiceRecord, Unit, User, Wish
from models.record import RecordStatus
from models.report import ReportStatus
from models.wish import WishStatus
from services import notifications, rollups, subscriptions
from services.authz import (
    access_in_community,
    access_unit,
    community_field,
    fetch,
    region_scope,
    require_staff,
    row_field,
)
from services.database import add_unique, update_if, where_given


def _already_reported():
    return Conflict("already_reported", "已有待审核或已通过的报到，请先撤回")


def _not_found():
    return NotFound("report_not_found", "报到记录不存在")


def _insert_report(report, active):
    """An active report already there, or a simultaneous one winning the unique index: 409."""
    if db.session.scalar(select(Report.id).where(*active, Report.status.in_(ReportStatus.ACTIVE))) is not None:
        raise _already_reported()
    if not add_unique(report):
        raise _already_reported()
    return report


def report_member(actor, *, community_id):
    """The caller reports to a community; it may report elsewhere once this is withdrawn or rejected."""
    community_field(community_id)
    member = actor.user
    return _insert_report(
        Report(kind="member", status=ReportStatus.PENDING, member_id=member.id, unit_id=member.unit_id,
               community_id=community_id, created_by=member.id),
        (Report.member_id == member.id, Report.kind == "member"))


def report_unit(actor, *, community_id, unit_id):
    """A unit's admin reports the unit to the community where it sits."""
    if not actor.unit_ids:
        raise Forbidden("unit_admin_only", "只有单位管理员可以为单位报到")
    community_field(community_id)
    row_field(Unit, unit_id, "unit_id", "单位不存在")
    access_unit(actor, unit_id, for_write=True, allow_region_staff=False)
    return _insert_report(
        Report(kind="unit", status=ReportStatus.PENDING, unit_id=unit_id, community_id=community_id,
               created_by=actor.id),
        (Report.unit_id == unit_id, Report.kind == "unit"))


def list_reports(actor, *, community_id=None, status=None, kind=None):
    """Reports the staff member can see: in its regions, or of its units and their members."""
    require_staff(actor)
    visible = [region_scope(actor, Report.community_id)]
    if actor.unit_ids:
        visible.append(Report.unit_id.in_(actor.unit_ids))
    return where_given(select(Report).where(or_(*visible)).order_by(Report.id.desc()),
                       (Report.community_id, community_id), (Report.status, status), (Report.kind, kind))


def access_report(actor, report_id, *, for_write):
    """A report: to decide on it (``for_write``), the community's staff get it locked; to read it, also its
    reporter (the member, or the unit's admin)."""
    if for_write:
        return access_in_community(actor, Report, report_id, _not_found(), for_write=True)
    report = fetch(Report, report_id, _not_found())
    if report.member_id == actor.id or report.unit_id in actor.unit_ids or \
            actor.covers_community_id(report.community_id):
        return report
    raise _not_found()


def _transition(report, allowed_from, to, **values):
    """Of two simultaneous decisions exactly one applies, the other gets 409."""
    if not update_if(report, Report.status.in_(allowed_from), status=to, **values):
        raise Conflict("invalid_state", "当前状态不允许该操作")


def decide(actor, report_id, *, approve, reason=None):
    report = access_report(actor, report_id, for_write=True)
    to = ReportStatus.APPROVED if approve else ReportStatus.REJECTED
    _transition(report, (ReportStatus.PENDING,), to, decided_by=actor.id, decided_at=utcnow(), reason=reason)
    if approve:
        rollups.reports_changed(report, +1)
        _unit_moves(report, to_report=True)
    if report.member_id:
        title = "报到已通过" if approve else "报到未通过"
        notifications.notify(report.member_id, f"report_{to}", title, reason, ref=f"report:{report.id}",
                             key=f"report:{report.id}:{to}")
        subscriptions.push(report.member_id, "report_decided", report.id,
                           {"id": report.id, "result": "已通过" if approve else "未通过", "reason": reason or "",
                            "decided_at": to_local(report.decided_at).strftime("%Y-%m-%d %H:%M")},
                           page="pages/reports/index")
    return report


def withdraw(actor, report_id):
    """The member (or, for a unit report, its unit admin) withdraws; the member may then report elsewhere."""
    # Locked: whether it was approved when withdrawn decides the community's count.
    report = fetch(Report, report_id, _not_found(), lock=True)
    owns = (report.kind == "member" and report.member_id == actor.id) or \
        (report.kind == "unit" and report.unit_id in actor.unit_ids)
    if not owns:
        raise _not_found()
    was_approved = report.status == ReportStatus.APPROVED
    _transition(report, ReportStatus.ACTIVE, ReportStatus.WITHDRAWN, decided_at=utcnow())
    if was_approved:
        rollups.reports_changed(report, -1)
        _unit_moves(report, to_report=False)
    return report


def _unit_moves(report, *, to_report):
    """A unit report approved (``to_report``) or an approved one withdrawn: the unit now stands in the report's
    community, or again where it sits, and its teams count there. The unit's row is locked for update, so a team
    of the unit created or dissolved at the same moment is counted once, where the unit stands when it commits."""
    if report.kind != "unit":
        return
    sits_in = db.session.scalar(select(Unit.community_id).where(Unit.id == report.unit_id).with_for_update())
    rollups.unit_teams_moved(report.unit_id, *((sits_in, report.community_id) if to_report
                                               else (report.community_id, sits_in)))


def give_feedback(actor, report_id, *, year, rating, comment=None):
    report = access_report(actor, report_id, for_write=True)
    if report.status != ReportStatus.APPROVED:
        raise Conflict("invalid_state", "只能对已通过的报到给出反馈")
    feedback = Feedback(report_id=report.id, year=year, rating=rating, comment=comment, created_by=actor.id)
    if not add_unique(feedback):
        raise Conflict("feedback_exists", "该年度已有反馈")
    return feedback


# A unit's member as the figures need it: three columns, not the whole user row.
_MEMBER = Bundle("member", User.id, User.name, User.volunteer_number)

# The five grouped queries of unit_member_rows, built once: a page changes only the ids and the year's bounds.
_IDS = bindparam("member_ids", expanding=True)
_START, _END = bindparam("start"), bindparam("end")
_LATEST_REPORT_IDS = (select(func.max(Report.id).label("report_id"))
                      .where(Report.member_id.in_(_IDS), Report.kind == "member").group_by(Report.member_id)
                      .subquery())
_LATEST_REPORTS = select(Report.id, Report.member_id, Report.status, Report.community_id).join(
    _LATEST_REPORT_IDS, Report.id == _LATEST_REPORT_IDS.c.report_id)
_APPROVED_HOURS = (select(ServiceRecord.member_id, func.sum(ServiceRecord.hours))
                   .where(ServiceRecord.member_id.in_(_IDS), ServiceRecord.status == RecordStatus.APPROVED,
                          ServiceRecord.started_at >= _START, ServiceRecord.started_at < _END)
                   .group_by(ServiceRecord.member_id))
_POINTS_EARNED = (select(PointsEntry.member_id, func.sum(PointsEntry.delta))
                  .where(PointsEntry.member_id.in_(_IDS), PointsEntry.at >= _START, PointsEntry.at < _END)
                  .group_by(PointsEntry.member_id))
_WISHES_COMPLETED = (select(Wish.claimer_member_id, func.count(Wish.id))
                     .where(Wish.claimer_member_id.in_(_IDS), Wish.status == WishStatus.COMPLETED,
                            Wish.completed_at >= _START, Wish.completed_at < _END)
                     .group_by(Wish.claimer_member_id))
_YEAR_FEEDBACK = select(Feedback).where(Feedback.report_id.in_(bindparam("report_ids", expanding=True)),
                                        Feedback.year == bindparam("year"))


def unit_members(actor, unit_id, *, year=None):
    """The unit's members (a query by id of their id, name and volunteer number) and the year whose figures to show
    (default this year). The unit's admin, or region staff above the unit's community, may see them."""
    unit = access_unit(actor, unit_id, for_write=True)
    return select(_MEMBER).where(User.unit_id == unit.id).order_by(User.id), (year or local_today().year)


def unit_member_rows(members, year):
    """Figures for one page of a unit's members: the latest member report, approved hours and points earned in the
    local year, wishes the member completed that year and the community's feedback, in five grouped queries
    (never one per member)."""
    ids = [m.id for m in members]
    if not ids:
        return []
    start, end = local_year_bounds(year)
    window = {"member_ids": ids, "start": start, "end": end}
    reports = {r.member_id: r for r in db.session.execute(_LATEST_REPORTS, {"member_ids": ids})}
    hours = dict(db.session.execute(_APPROVED_HOURS, window).all())
    points = dict(db.session.execute(_POINTS_EARNED, window).all())
    wishes = dict(db.session.execute(_WISHES_COMPLETED, window).all())
    report_ids = [r.id for r in reports.values()]
    feedback = {f.report_id: f for f in db.session.scalars(
        _YEAR_FEEDBACK, {"report_ids": report_ids, "year": year})} if report_ids else {}
    rows = []
    for member in members:
        report = reports.get(member.id)
        rows.append({
            "member_id": member.id,
            "name": member.name,
            "volunteer_number": member.volunteer_number,
            "report_status": report.status if report else None,
            "community_id": report.community_id if report else None,
            "approved_hours_this_year": Decimal(hours.get(member.id) or 0),
            "points_this_year": int(points.get(member.id) or 0),
            "wishes_completed_this_year": int(wishes.get(member.id) or 0),
            "feedback": feedback.get(report.id) if report else None,
            "year": year,
        })
    return rows
