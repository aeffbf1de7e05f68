"""Statistics for a region and each of its child regions, for one local calendar year.

``overview`` answers from the rollups (services/rollups.py), which every approval, correction, report decision and
settled shift keeps in its own transaction: a few hundred small rows even for a district, so the figures are
always live. Activities are counted from their own table, small enough to count each time.

``compute`` is the full recomputation from the records, kept as the definition the rollups must equal (the tests
compare both after random changes; ``flask --app wsgi stats rebuild`` and the nightly job rebuild the rollups from
the same facts). It resolves the
communities within the region first (a few hundred ids at most) and filters every fact table by
``community_id IN (...)``; additive figures are reduced per community in SQL and rolled up to the child regions
(a community counts under its street in a district, under itself in a street); the distinct count of volunteers is
taken in SQL from (child region, member) pairs, so a member serving in two streets counts once for the district.
"""

import os
import tempfile
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import case, distinct, func, literal, select, union_all
from sqlalchemy.orm import aliased

from clock import local_today, local_year_bounds, utcnow
from errors import ValidationFailed
from extensions import db
from models import (
    Activity,
    Appeal,
    Attendance,
    Post,
    Region,
    RegionYearVolunteers,
    Report,
    ServiceRecord,
    Shift,
    ShiftAssignment,
    Unit,
    User,
    VolunteerYear,
)
from models.activity import CATEGORIES, ActivityStatus
from models.post import AssignmentStatus
from models.record import RecordStatus
from models.report import ReportStatus
from services import pii, rollups, spreadsheets
from services.authz import require_region_staff, staff_of_region

FIGURES = ("members_reported", "units_reported", "activities", "approved_hours", "active_volunteers", "no_show_rate",
           "teams", "attendances", "units_active", "hours_by_category", "appeals_received")


def overview(actor, *, region_id=None, year=None, fresh=False):
    """Figures for a region the caller administers (or a region below it) and for each of its children, live.
    ``fresh`` is still accepted from clients written when the figures were snapshots: every answer is fresh now."""
    region = _region_of(actor, region_id)
    year = year or local_today().year
    children = list(db.session.scalars(select(Region).where(Region.parent_id == region.id).order_by(Region.id)))
    totals, distinct_counts = rollups.figures(region, year)
    activities = _activities(region, year)
    empty = [0] * len(rollups.ADDITIVE)

    def figures(bucket_id):
        values = dict(zip(rollups.ADDITIVE, totals.get(bucket_id, empty), strict=True))
        volunteers, units = distinct_counts.get(bucket_id, (0, 0))
        return _figures(values, activities.get(bucket_id, (0,))[0], volunteers, units)

    return _answer(region, year, children, figures)


def _region_of(actor, region_id):
    """The region asked for, within the caller's scope; by default the caller's region, if it has exactly one."""
    require_region_staff(actor)
    if region_id is None:
        if len(actor.region_ids) != 1:
            raise ValidationFailed({"region_id": ["请指定区域"]})
        region_id = actor.region_ids[0]
    return staff_of_region(actor, region_id)


def _figures(values, activities, volunteers, units_active):
    """``values``: the additive figures by their names in ``rollups.ADDITIVE``."""
    return {
        "members_reported": int(values["members_reported"]),
        "units_reported": int(values["units_reported"]),
        # Not per year: the active teams of the region's communities and their units, now.
        "teams": int(values["active_teams"]),
        "activities": int(activities),
        "approved_hours": Decimal(values["approved_hours"]),
        "active_volunteers": int(volunteers),
        "no_show_rate": _rate(values["no_shows"], values["settled_assignments"]),
        "attendances": int(values["attendances"]),
        "units_active": int(units_active),
        "hours_by_category": {column.removeprefix("hours_"): Decimal(values[column])
                              for column in rollups.CATEGORY_COLUMNS},
        "appeals_received": int(values["appeals_received"]),
    }


def _answer(region, year, children, figures):
    return {
        "region_id": region.id,
        "name": region.name,
        "kind": region.kind,
        "year": year,
        **figures(region.id),
        "children": [{"region_id": c.id, "name": c.name, "kind": c.kind, **figures(c.id)} for c in children],
        "computed_at": utcnow(),
    }


def _rate(no_shows, settled):
    if not settled:
        return Decimal("0")
    return (Decimal(int(no_shows)) / Decimal(int(settled))).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _buckets(region):
    """{community_id: child region it counts under} for every community within ``region``."""
    rows = db.session.execute(select(Region.id, Region.parent_id).where(
        Region.kind == "community", Region.path.startswith(region.path)))
    # Regions nest district > street > community: a district's children are its communities' streets; a street's
    # children (and a community's own figures) are the communities themselves.
    return {community_id: parent_id if region.kind == "district" else community_id for community_id, parent_id in rows}


def _roll_up(region, buckets, rows):
    """Per-community sums ``(community_id, value, ...)`` added up per child region and for ``region`` itself."""
    totals = {}
    for community_id, *values in rows:
        for key in {buckets[community_id], region.id}:
            previous = totals.get(key, [0] * len(values))
            totals[key] = [a + (b or 0) for a, b in zip(previous, values, strict=True)]
    return totals


def _activities(region, year):
    """{child or region id: [activities not cancelled that start in the year]}, counted per child by the database."""
    start, end = local_year_bounds(year)
    join, inside = rollups.within(region, Activity.community_id)
    child = rollups.child_of(region)
    return rollups.with_whole(region, {child_id: [n] for child_id, n in db.session.execute(
        select(child, func.count(Activity.id)).join(Region, join)
        .where(inside, Activity.starts_at >= start, Activity.starts_at < end,
               Activity.status != ActivityStatus.CANCELLED)
        .group_by(child))})


def _volunteers(region, buckets, start, end):
    """{region or child id: (approved hours, distinct members, distinct units of those members)} of approved
    records in [start, end)."""
    community = aliased(Region)
    bucket = community.parent_id if region.kind == "district" else ServiceRecord.community_id
    pairs = (select(bucket.label("bucket_id"), ServiceRecord.member_id, User.unit_id,
                    func.sum(ServiceRecord.hours).label("hours"))
             .select_from(ServiceRecord).join(User, User.id == ServiceRecord.member_id)
             .where(ServiceRecord.community_id.in_(list(buckets)), ServiceRecord.status == RecordStatus.APPROVED,
                    ServiceRecord.started_at >= start, ServiceRecord.started_at < end)
             .group_by(bucket, ServiceRecord.member_id, User.unit_id))
    if region.kind == "district":
        pairs = pairs.join(community, community.id == ServiceRecord.community_id)
    pairs = pairs.cte("pairs")
    # One scan of the records serves both levels: per child (a member counts once per child) and the whole region.
    per_child = select(pairs.c.bucket_id, func.sum(pairs.c.hours), func.count(),
                       func.count(distinct(pairs.c.unit_id))).group_by(pairs.c.bucket_id)
    whole = select(literal(region.id), func.sum(pairs.c.hours), func.count(distinct(pairs.c.member_id)),
                   func.count(distinct(pairs.c.unit_id)))
    rows = db.session.execute(union_all(per_child, whole))
    return {bucket_id: (hours or 0, count, units) for bucket_id, hours, count, units in rows}


def _category_hours(region, buckets, start, end):
    other = ServiceRecord.category.is_(None) | ServiceRecord.category.not_in(CATEGORIES)
    return _roll_up(region, buckets, db.session.execute(
        select(ServiceRecord.community_id,
               *(func.sum(case((ServiceRecord.category == c, ServiceRecord.hours), else_=0)) for c in CATEGORIES),
               func.sum(case((other, ServiceRecord.hours), else_=0)))
        .where(ServiceRecord.community_id.in_(list(buckets)), ServiceRecord.status == RecordStatus.APPROVED,
               ServiceRecord.started_at >= start, ServiceRecord.started_at < end)
        .group_by(ServiceRecord.community_id)))


def _attendances(region, buckets, start, end):
    """Checked-out attendances of check-ins in [start, end), at activities and at shifts, per child."""
    in_year = (Attendance.checked_out_at.is_not(None), Attendance.checked_in_at >= start,
               Attendance.checked_in_at < end)
    at_activities = (select(Activity.community_id, func.count()).select_from(Attendance)
                     .join(Activity, Activity.id == Attendance.activity_id)
                     .where(*in_year, Activity.community_id.in_(list(buckets))).group_by(Activity.community_id))
    at_shifts = (select(Post.community_id, func.count()).select_from(Attendance)
                 .join(Shift, Shift.id == Attendance.shift_id).join(Post, Post.id == Shift.post_id)
                 .where(*in_year, Post.community_id.in_(list(buckets))).group_by(Post.community_id))
    return _roll_up(region, buckets, db.session.execute(union_all(at_activities, at_shifts)))


def compute(region, year):
    """The overview of ``region`` for ``year``, recomputed from the records, reports, attendances, appeals and shift
    assignments: what the rollups must always equal."""
    start, end = local_year_bounds(year)
    buckets = _buckets(region)
    communities = list(buckets)
    reports = _roll_up(region, buckets, db.session.execute(
        select(Report.community_id, func.count().filter(Report.kind == "member"),
               func.count().filter(Report.kind == "unit"))
        .where(Report.community_id.in_(communities), Report.status == ReportStatus.APPROVED)
        .group_by(Report.community_id)))
    attendance = _roll_up(region, buckets, db.session.execute(
        select(Post.community_id, func.count().filter(ShiftAssignment.status == AssignmentStatus.NO_SHOW),
               func.count())
        .select_from(ShiftAssignment).join(Shift, Shift.id == ShiftAssignment.shift_id)
        .join(Post, Post.id == Shift.post_id)
        .where(Post.community_id.in_(communities), Shift.ends_at >= start, Shift.ends_at < end,
               ShiftAssignment.status.in_(AssignmentStatus.SETTLED))
        .group_by(Post.community_id)))
    teams = _roll_up(region, buckets, (row for row in db.session.execute(rollups.active_teams_by_community())
                                       if row[0] in buckets))
    appeals = _roll_up(region, buckets, db.session.execute(
        select(Appeal.community_id, func.count())
        .where(Appeal.community_id.in_(communities), Appeal.created_at >= start, Appeal.created_at < end)
        .group_by(Appeal.community_id)))
    activities = _activities(region, year)
    service = _volunteers(region, buckets, start, end)
    categories = _category_hours(region, buckets, start, end)
    checked_out = _attendances(region, buckets, start, end)

    def figures(bucket_id):
        members, units = reports.get(bucket_id, (0, 0))
        hours, volunteers, units_active = service.get(bucket_id, (0, 0, 0))
        no_shows, settled = attendance.get(bucket_id, (0, 0))
        values = {"members_reported": members, "units_reported": units, "approved_hours": hours,
                  "active_teams": teams.get(bucket_id, (0,))[0],
                  "no_shows": no_shows, "settled_assignments": settled,
                  "attendances": checked_out.get(bucket_id, (0,))[0],
                  "appeals_received": appeals.get(bucket_id, (0,))[0],
                  **dict(zip(rollups.CATEGORY_COLUMNS, categories.get(bucket_id, [0] * 7), strict=True))}
        return _figures(values, activities.get(bucket_id, (0,))[0], volunteers, units_active)

    children = db.session.scalars(select(Region).where(Region.parent_id == region.id).order_by(Region.id))
    return _answer(region, year, children, figures)


# Who served most: the members' approved hours in a region's year, from the volunteers' rollup.

MEMBER_HEADERS = ("名次", "志愿者编号", "姓名", "手机号", "单位", "时长（小时）", "记录数")


def _member_hours_query(actor, region_id, year):
    """The region's members with approved hours in the year, most hours first (ties: the later member first), read
    backwards from the index ``(region_id, year, hours, member_id)`` of the rollup: a page costs its own rows."""
    region = _region_of(actor, region_id)
    year = year or local_today().year
    query = (select(VolunteerYear.member_id, User.name, User.volunteer_number, User.phone, Unit.name,
                    VolunteerYear.hours, VolunteerYear.records)
             .join(User, User.id == VolunteerYear.member_id).outerjoin(Unit, Unit.id == User.unit_id)
             .where(VolunteerYear.region_id == region.id, VolunteerYear.year == year, VolunteerYear.records > 0)
             .order_by(VolunteerYear.hours.desc(), VolunteerYear.member_id.desc()))
    return region, year, query


def _member_item(row):
    member_id, name, number, phone, unit_name, hours, records = row
    return {"member_id": member_id, "name": name, "volunteer_number": number, "phone_masked": pii.mask_phone(phone),
            "unit_name": unit_name, "hours": Decimal(hours), "records": records}


def member_hours(actor, *, region_id=None, year=None, page=1, per_page=20):
    """A page of the region's members by approved hours in the year (for recognition such as 回天好人)."""
    region, year, query = _member_hours_query(actor, region_id, year)
    # Members with records above zero are exactly the region's active volunteers, counted in their own rollup.
    total = db.session.scalar(select(RegionYearVolunteers.active_volunteers).where(
        RegionYearVolunteers.region_id == region.id, RegionYearVolunteers.year == year)) or 0
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page))
    return {"region_id": region.id, "year": year, "items": [_member_item(row) for row in rows], "page": page,
            "per_page": per_page, "total": total}


def write_member_hours_xlsx(actor, *, region_id=None, year=None):
    """The whole list as an XLSX file (constant memory, text as text): ``(path, file name)``."""
    region, year, query = _member_hours_query(actor, region_id, year)
    fd, path = tempfile.mkstemp(prefix="baodao-members-", suffix=".xlsx")
    os.close(fd)
    try:
        workbook = spreadsheets.workbook(path)
        sheet = workbook.add_worksheet(f"{year}年服务时长")
        sheet.write_row(0, 0, MEMBER_HEADERS, workbook.add_format({"bold": True}))
        for n, row in enumerate(db.session.execute(query.execution_options(yield_per=1000)), start=1):
            item = _member_item(row)
            sheet.write_number(n, 0, n)
            sheet.write_row(n, 1, [item["volunteer_number"] or "", item["name"] or "", item["phone_masked"] or "",
                                   item["unit_name"] or ""])
            sheet.write_number(n, 5, float(item["hours"]))
            sheet.write_number(n, 6, item["records"])
        workbook.close()
    except Exception:
        os.unlink(path)
        raise
    return path, f"member-hours-{region.id}-{year}.xlsx"
