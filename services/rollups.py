"""The rollups behind /stats/overview (models/stats.py), kept in the transaction of every change that moves a figure.

Who calls what (and nothing else changes these figures):
- ``records_changed``: a record approved (added), an approved record corrected (removed as it was, added as it is:
  its hours, or its start and so its year, may change). Rejected and pending records count nowhere.
- ``reports_changed``: a report approved (+1), an approved report withdrawn (-1).
- ``assignments_settled``: a shift assignment that became ``attended`` (check-out, or closed by the scheduler) or
  ``no_show`` (``mark_no_shows``); both are final.
- ``attendances_closed``: an attendance checked out (by the member, or closed by ``close_open_attendances``).
- ``appeal_received``: an appeal submitted.
- ``member_unit_changed``: a member's unit changed in their profile: their records move to the new unit's counts.
- ``teams_changed``: a team created (+1) or dissolved (-1), in the community where it counts.
- ``unit_teams_moved``: a unit report approved, or an approved one withdrawn: the unit's active teams move between
  the community of the report and the one where the unit sits.

Each change is a delta added with ``INSERT ... ON CONFLICT DO UPDATE`` (an upsert), so simultaneous changes add up
instead of overwriting each other, and rows are written in key order, so two transactions never wait for each other
in a circle. Additive figures live on community rows only (no street or district row every approval would queue
on); the active volunteers, which do not add up across communities, have a row per member and region at every level
and a count per region that changes only when a member's first record of the year in it arrives or its last goes;
the active units likewise (per region, year and unit: the records of members whose unit it is now).

``rebuild`` recomputes everything from the records (``flask --app wsgi stats rebuild``, the nightly
``reconcile_statistics`` job, the demo and the benchmark seed); ``figures`` reads them for an overview.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import case, delete, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from clock import local_year_bounds, to_local
from extensions import db
from models import (
    Activity,
    Appeal,
    Attendance,
    CommunityReportCounts,
    CommunityYearDetails,
    CommunityYearFigures,
    Post,
    Region,
    RegionYearUnits,
    RegionYearVolunteers,
    Report,
    ServiceRecord,
    Shift,
    ShiftAssignment,
    Team,
    Unit,
    UnitYear,
    User,
    VolunteerYear,
)
from models.activity import CATEGORIES
from models.post import AssignmentStatus
from models.record import RecordStatus
from models.report import ReportStatus, approved_unit_report
from models.team import TeamStatus
from services.database import is_sqlite

log = logging.getLogger("baodao.rollups")

# Rows per upsert statement: 4 columns each stays well under PostgreSQL's 65,535 and SQLite's 32,766 parameters.
CHUNK = 2000
ROLLUP_MODELS = (CommunityYearFigures, CommunityReportCounts, VolunteerYear, RegionYearVolunteers,
                 CommunityYearDetails, UnitYear, RegionYearUnits)


@dataclass(frozen=True)
class Contribution:
    """What an approved record adds to the figures."""

    member_id: int
    community_id: int
    started_at: datetime
    hours: Decimal
    category: str | None = None

    @classmethod
    def of(cls, record):
        return cls(record.member_id, record.community_id, record.started_at, Decimal(record.hours), record.category)


def category_column(category):
    """The ``stats_community_details`` column of a record's category: one of the six themes, else ``other``."""
    return f"hours_{category if category in CATEGORIES else 'other'}"


def _insert(model):
    return (sqlite_insert if is_sqlite() else postgresql_insert)(model)


def _upsert(model, keys, rows, returning=()):
    """Add each row's values to the row of the same key (inserting it when missing), in key order; the
    ``returning`` columns of every row written. Rows of one statement carry the same columns (missing ones are 0)."""
    table = model.__table__
    columns = sorted({column for row in rows for column in row})
    ordered = sorted(({c: row.get(c, 0) for c in columns} for row in rows), key=lambda row: tuple(row[k] for k in keys))
    written = []
    for start in range(0, len(ordered), CHUNK):
        statement = _insert(model).values(ordered[start:start + CHUNK])
        added = {column: table.c[column] + statement.excluded[column]
                 for column in ordered[0] if column not in keys}
        statement = statement.on_conflict_do_update(index_elements=list(keys), set_=added)
        if returning:
            written.extend(db.session.execute(statement.returning(*(table.c[c] for c in returning))))
        else:
            db.session.execute(statement)
    return written


def _levels(community_ids):
    """{community id: ids of the community and every region above it} (from the regions' paths)."""
    rows = db.session.execute(select(Region.id, Region.path).where(Region.id.in_(set(community_ids))))
    return {region_id: [int(part) for part in path.strip("/").split("/") if part] or [region_id]
            for region_id, path in rows}


def _units_of(member_ids):
    """{member id: unit id or None}, the members' rows share-locked on PostgreSQL: a unit change (which updates the
    row) waits for this transaction and then moves what it counted, or this one waits and counts the new unit."""
    query = select(User.id, User.unit_id).where(User.id.in_(set(member_ids))).order_by(User.id)
    if not is_sqlite():
        query = query.with_for_update(read=True)
    return dict(db.session.execute(query).all())


def records_changed(*, added=(), removed=()):
    """Approved records entering (``added``) and leaving (``removed``) the figures, as ``Contribution``s."""
    hours = defaultdict(Decimal)
    by_category = defaultdict(lambda: defaultdict(Decimal))
    counts = defaultdict(lambda: [0, Decimal(0)])
    for sign, contributions in ((1, added), (-1, removed)):
        for c in contributions:
            year = to_local(c.started_at).year
            hours[(c.community_id, year)] += sign * c.hours
            by_category[(c.community_id, year)][category_column(c.category)] += sign * c.hours
            counts[(c.community_id, year, c.member_id)][0] += sign
            counts[(c.community_id, year, c.member_id)][1] += sign * c.hours
    hour_rows = [{"community_id": community_id, "year": year, "approved_hours": delta}
                 for (community_id, year), delta in hours.items() if delta]
    _upsert(CommunityYearFigures, ("community_id", "year"), hour_rows)
    _upsert(CommunityYearDetails, ("community_id", "year"),
            [{"community_id": community_id, "year": year, **changes}
             for (community_id, year), changes in by_category.items() if any(changes.values())])
    deltas = {key: delta for key, delta in counts.items() if any(delta)}
    if not deltas:
        return
    levels = _levels(community_id for community_id, _year, _member in deltas)
    units = _units_of(member_id for _community, _year, member_id in deltas)
    per_member, member_hours, per_unit = defaultdict(int), defaultdict(Decimal), defaultdict(int)
    for (community_id, year, member_id), (delta, delta_hours) in deltas.items():
        for region_id in levels[community_id]:
            per_member[(region_id, year, member_id)] += delta
            member_hours[(region_id, year, member_id)] += delta_hours
            if units.get(member_id) is not None:
                per_unit[(region_id, year, units[member_id])] += delta
    _count_distinct(VolunteerYear, "member_id", RegionYearVolunteers, "active_volunteers", per_member, member_hours)
    _count_distinct(UnitYear, "unit_id", RegionYearUnits, "units_active", per_unit)


def _count_distinct(model, key, counts_model, count_column, per_region, hours=None):
    """``per_region``: {(region id, year, member or unit id): change of its approved records there} (and of their
    ``hours``, for members); the region's count of distinct members or units changes only when one's records leave
    or reach zero."""
    rows = [{"region_id": r, "year": y, key: k, "records": d, **({"hours": hours[(r, y, k)]} if hours else {})}
            for (r, y, k), d in per_region.items() if d or (hours and hours[(r, y, k)])]
    if not rows:
        return
    written = _upsert(model, ("region_id", "year", key), rows, returning=("region_id", "year", key, "records"))
    distinct_counts = defaultdict(int)
    for region_id, year, item_id, now in written:
        before = now - per_region[(region_id, year, item_id)]
        distinct_counts[(region_id, year)] += (now > 0) - (before > 0)
    _upsert(counts_model, ("region_id", "year"),
            [{"region_id": r, "year": y, count_column: d} for (r, y), d in distinct_counts.items() if d])


def member_unit_changed(member_id, old_unit_id, new_unit_id):
    """A member's unit changed (its row already updated, so locked): their approved records move from the old unit's
    counts to the new one's, at every level and year."""
    if old_unit_id == new_unit_id:
        return
    per_unit = defaultdict(int)
    for region_id, year, records in db.session.execute(
            select(VolunteerYear.region_id, VolunteerYear.year, VolunteerYear.records)
            .where(VolunteerYear.member_id == member_id, VolunteerYear.records != 0)):
        for unit_id, sign in ((old_unit_id, -1), (new_unit_id, 1)):
            if unit_id is not None:
                per_unit[(region_id, year, unit_id)] += sign * records
    _count_distinct(UnitYear, "unit_id", RegionYearUnits, "units_active", per_unit)


def attendances_closed(places):
    """Attendances just checked out: ``[(community id, checked-in at), ...]``."""
    counts = defaultdict(int)
    for community_id, checked_in_at in places:
        counts[(community_id, to_local(checked_in_at).year)] += 1
    _upsert(CommunityYearDetails, ("community_id", "year"),
            [{"community_id": c, "year": y, "attendances": n} for (c, y), n in counts.items()])


def appeal_received(appeal):
    """An appeal submitted (they are never deleted, and stay in their community)."""
    _upsert(CommunityYearDetails, ("community_id", "year"), [
        {"community_id": appeal.community_id, "year": to_local(appeal.created_at).year, "appeals_received": 1}])


def reports_changed(report, sign):
    """An approved report counted (+1) or no longer (-1)."""
    column = "members_reported" if report.kind == "member" else "units_reported"
    _upsert(CommunityReportCounts, ("community_id",), [{"community_id": report.community_id, column: sign}])


def teams_changed(community_id, delta):
    """A community's active teams: one created (+1) or dissolved (-1)."""
    _upsert(CommunityReportCounts, ("community_id",), [{"community_id": community_id, "active_teams": delta}])


def unit_teams_moved(unit_id, from_community_id, to_community_id):
    """A unit now stands in another community (its unit report approved, or withdrawn), its row locked for update
    by the caller: its active teams move there. Creating or dissolving a unit's team share-locks the same row
    (services/teams.py), so each of the two sees the other's teams as they are once it commits."""
    if from_community_id == to_community_id:
        return
    teams = db.session.scalar(select(func.count()).select_from(Team).where(
        Team.owner_unit_id == unit_id, Team.status == TeamStatus.ACTIVE))
    if teams:
        _upsert(CommunityReportCounts, ("community_id",),
                [{"community_id": from_community_id, "active_teams": -teams},
                 {"community_id": to_community_id, "active_teams": teams}])


def active_teams_by_community():
    """SQL: ``(community id, active teams)`` of every community with some, counted from the teams: a community's own,
    and its units' (where each unit stands)."""
    community = func.coalesce(Team.owner_community_id, Report.community_id, Unit.community_id)
    return (select(community, func.count()).select_from(Team)
            .outerjoin(Unit, Unit.id == Team.owner_unit_id).outerjoin(Report, approved_unit_report(Unit.id))
            .where(Team.status == TeamStatus.ACTIVE).group_by(community))


def assignments_settled(shift_ids_and_statuses):
    """Assignments that just became ``attended`` or ``no_show``: ``[(shift id, status), ...]``."""
    if not shift_ids_and_statuses:
        return
    shifts = {shift_id: (community_id, ends_at) for shift_id, community_id, ends_at in db.session.execute(
        select(Shift.id, Post.community_id, Shift.ends_at).join(Post, Post.id == Shift.post_id)
        .where(Shift.id.in_({shift_id for shift_id, _status in shift_ids_and_statuses})))}
    settled = defaultdict(lambda: [0, 0])
    for shift_id, status in shift_ids_and_statuses:
        community_id, ends_at = shifts[shift_id]
        figures = settled[(community_id, to_local(ends_at).year)]
        figures[0] += 1
        figures[1] += status == AssignmentStatus.NO_SHOW
    _upsert(CommunityYearFigures, ("community_id", "year"),
            [{"community_id": c, "year": y, "settled_assignments": n, "no_shows": no_shows}
             for (c, y), (n, no_shows) in settled.items()])


# Reading.

def within(region, community_column):
    """SQL: rows of the communities within ``region``, joined on their paths (a few hundred ids as bound
    parameters would cost more to send and plan than the rows cost to read)."""
    return Region.id == community_column, Region.path.startswith(region.path)


def child_of(region):
    """SQL: the child of ``region`` a community (``Region``) counts under: its street in a district, else itself (a
    street's children are its communities; a community is its own)."""
    return Region.parent_id if region.kind == "district" else Region.id


def with_whole(region, per_child):
    """``per_child`` ``{child id: [sums]}`` and, under ``region.id``, their sum (a community's one row is already
    its whole)."""
    if per_child and region.id not in per_child:
        per_child[region.id] = [sum(values) for values in zip(*per_child.values(), strict=True)]
    return per_child


CATEGORY_COLUMNS = tuple(f"hours_{c}" for c in (*CATEGORIES, "other"))
# The additive figures of a community, in the order ``figures`` gives them.
ADDITIVE = ("approved_hours", "settled_assignments", "no_shows", "members_reported", "units_reported", "active_teams",
            "attendances", "appeals_received", *CATEGORY_COLUMNS)
# Those of them that are hours (decimals); the others are counts.
HOURS = {"approved_hours", *CATEGORY_COLUMNS}


def figures(region, year):
    """The rollups an overview of ``region`` needs, in two statements: ``({child or region id: [the ADDITIVE
    figures]}, {child or region id: (active volunteers, active units)})``. The database adds up the communities'
    rows per child (a district's few hundred rows are summed where they lie)."""
    years, reports = CommunityYearFigures.__table__.c, CommunityReportCounts.__table__.c
    details = CommunityYearDetails.__table__.c
    child = child_of(region)
    columns = (years.approved_hours, years.settled_assignments, years.no_shows, reports.members_reported,
               reports.units_reported, reports.active_teams, details.attendances, details.appeals_received,
               *(details[c] for c in CATEGORY_COLUMNS))
    rows = db.session.execute(
        select(child, *(func.coalesce(func.sum(column), 0) for column in columns)).select_from(Region)
        .outerjoin(CommunityYearFigures, (years.community_id == Region.id) & (years.year == year))
        .outerjoin(CommunityReportCounts, reports.community_id == Region.id)
        .outerjoin(CommunityYearDetails, (details.community_id == Region.id) & (details.year == year))
        .where(Region.kind == "community", Region.path.startswith(region.path)).group_by(child))
    sums = with_whole(region, {child_id: [Decimal(v) if name in HOURS else int(v)
                                          for name, v in zip(ADDITIVE, values, strict=True)]
                               for child_id, *values in rows})
    volunteers, units = RegionYearVolunteers.__table__.c, RegionYearUnits.__table__.c
    distinct_counts = {region_id: (volunteers_count or 0, units_count or 0)
                       for region_id, volunteers_count, units_count in db.session.execute(
        select(Region.id, volunteers.active_volunteers, units.units_active).select_from(Region)
        .outerjoin(RegionYearVolunteers, (volunteers.region_id == Region.id) & (volunteers.year == year))
        .outerjoin(RegionYearUnits, (units.region_id == Region.id) & (units.year == year))
        .where((Region.id == region.id) | (Region.parent_id == region.id)))}
    return sums, distinct_counts


# Rebuilding from the facts.

def _years(column, *conditions):
    first, last = db.session.execute(select(func.min(column), func.max(column)).where(*conditions)).one()
    return range(to_local(first).year, to_local(last).year + 1) if first else range(0)


def rebuild():
    """Recompute every rollup from the records, reports and assignments, replacing what was there; returns
    ``{"changed": number of (region, year) counts and community rows that differed}``. On PostgreSQL the rollup
    tables are locked first, so a change committing meanwhile waits and then adds its delta to the rebuilt rows."""
    if not is_sqlite():
        names = ", ".join(model.__tablename__ for model in ROLLUP_MODELS)
        db.session.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))
    before = _summary()
    for model in ROLLUP_MODELS:
        db.session.execute(delete(model))
    approved = ServiceRecord.status == RecordStatus.APPROVED
    for year in _years(ServiceRecord.started_at, approved):
        start, end = local_year_bounds(year)
        in_year = (approved, ServiceRecord.started_at >= start, ServiceRecord.started_at < end)
        db.session.execute(_insert(CommunityYearFigures).from_select(
            ["community_id", "year", "approved_hours", "settled_assignments", "no_shows"],
            select(ServiceRecord.community_id, literal(year), func.sum(ServiceRecord.hours), literal(0), literal(0))
            .where(*in_year).group_by(ServiceRecord.community_id)))
        other = ServiceRecord.category.is_(None) | ServiceRecord.category.not_in(CATEGORIES)
        by_category = [func.sum(case((ServiceRecord.category == c, ServiceRecord.hours), else_=0)) for c in CATEGORIES]
        db.session.execute(_insert(CommunityYearDetails).from_select(
            ["community_id", "year", "attendances", "appeals_received", *CATEGORY_COLUMNS],
            select(ServiceRecord.community_id, literal(year), literal(0), literal(0), *by_category,
                   func.sum(case((other, ServiceRecord.hours), else_=0)))
            .where(*in_year).group_by(ServiceRecord.community_id)))
        _rebuild_volunteers(year, in_year)
    settled = ShiftAssignment.status.in_(AssignmentStatus.SETTLED)
    for year in _years(Shift.ends_at, Shift.id.in_(select(ShiftAssignment.shift_id).where(settled))):
        start, end = local_year_bounds(year)
        rows = db.session.execute(
            select(Post.community_id, func.count(),
                   func.count().filter(ShiftAssignment.status == AssignmentStatus.NO_SHOW))
            .select_from(ShiftAssignment).join(Shift, Shift.id == ShiftAssignment.shift_id)
            .join(Post, Post.id == Shift.post_id)
            .where(settled, Shift.ends_at >= start, Shift.ends_at < end).group_by(Post.community_id))
        _upsert(CommunityYearFigures, ("community_id", "year"),
                [{"community_id": c, "year": year, "settled_assignments": n, "no_shows": no_shows}
                 for c, n, no_shows in rows])
    _rebuild_attendances_and_appeals()
    reports = db.session.execute(
        select(Report.community_id, func.count().filter(Report.kind == "member"),
               func.count().filter(Report.kind == "unit"))
        .where(Report.status == ReportStatus.APPROVED).group_by(Report.community_id))
    _upsert(CommunityReportCounts, ("community_id",),
            [{"community_id": c, "members_reported": m, "units_reported": u} for c, m, u in reports])
    _upsert(CommunityReportCounts, ("community_id",),
            [{"community_id": c, "active_teams": n} for c, n in db.session.execute(active_teams_by_community())])
    after = _summary()
    changed = sum(1 for key in before.keys() | after.keys() if before.get(key) != after.get(key))
    if changed:
        log.warning("statistics rollups rebuilt: %s rows differed from the records", changed)
    return {"changed": changed}


def _rebuild_volunteers(year, in_year):
    """The (region, year, member) counts at every level: the community, its street, the street's district."""
    community, street = aliased(Region), aliased(Region)
    levels = (
        (ServiceRecord.community_id, ()),
        (community.parent_id, ((community, community.id == ServiceRecord.community_id),)),
        (street.parent_id, ((community, community.id == ServiceRecord.community_id),
                            (street, street.id == community.parent_id))),
    )
    for region_column, joins in levels:
        query = select(region_column, literal(year), ServiceRecord.member_id, func.count(),
                       func.sum(ServiceRecord.hours)).select_from(ServiceRecord)
        for target, condition in joins:
            query = query.join(target, condition)
        query = query.where(*in_year, region_column.is_not(None)).group_by(region_column, ServiceRecord.member_id)
        db.session.execute(_insert(VolunteerYear).from_select(["region_id", "year", "member_id", "records", "hours"],
                                                              query))
    db.session.execute(_insert(RegionYearVolunteers).from_select(
        ["region_id", "year", "active_volunteers"],
        select(VolunteerYear.region_id, VolunteerYear.year, func.count())
        .where(VolunteerYear.year == year, VolunteerYear.records > 0)
        .group_by(VolunteerYear.region_id, VolunteerYear.year)))
    # A unit's counts are its members' (by their unit now), at every level the members' counts have.
    db.session.execute(_insert(UnitYear).from_select(
        ["region_id", "year", "unit_id", "records"],
        select(VolunteerYear.region_id, VolunteerYear.year, User.unit_id, func.sum(VolunteerYear.records))
        .join(User, User.id == VolunteerYear.member_id)
        .where(VolunteerYear.year == year, VolunteerYear.records > 0, User.unit_id.is_not(None))
        .group_by(VolunteerYear.region_id, VolunteerYear.year, User.unit_id)))
    db.session.execute(_insert(RegionYearUnits).from_select(
        ["region_id", "year", "units_active"],
        select(UnitYear.region_id, UnitYear.year, func.count())
        .where(UnitYear.year == year, UnitYear.records > 0).group_by(UnitYear.region_id, UnitYear.year)))


def _rebuild_attendances_and_appeals():
    closed = Attendance.checked_out_at.is_not(None)
    for year in _years(Attendance.checked_in_at, closed):
        start, end = local_year_bounds(year)
        counts = defaultdict(int)
        for community_column, place, place_join in (
                (Activity.community_id, Activity, Activity.id == Attendance.activity_id),
                (Post.community_id, Shift, Shift.id == Attendance.shift_id)):
            query = select(community_column, func.count()).select_from(Attendance).join(place, place_join)
            if place is Shift:
                query = query.join(Post, Post.id == Shift.post_id)
            for community_id, n in db.session.execute(
                    query.where(closed, Attendance.checked_in_at >= start, Attendance.checked_in_at < end)
                    .group_by(community_column)):
                counts[community_id] += n
        _upsert(CommunityYearDetails, ("community_id", "year"),
                [{"community_id": c, "year": year, "attendances": n} for c, n in counts.items()])
    for year in _years(Appeal.created_at):
        start, end = local_year_bounds(year)
        _upsert(CommunityYearDetails, ("community_id", "year"), [
            {"community_id": c, "year": year, "appeals_received": n} for c, n in db.session.execute(
                select(Appeal.community_id, func.count())
                .where(Appeal.created_at >= start, Appeal.created_at < end).group_by(Appeal.community_id))])


def _summary():
    """The small rollups as {key: values}, to tell what a rebuild changed."""
    summary = {("volunteers", r, y): n for r, y, n in db.session.execute(
        select(RegionYearVolunteers.region_id, RegionYearVolunteers.year, RegionYearVolunteers.active_volunteers)
        .where(RegionYearVolunteers.active_volunteers != 0))}
    summary.update({("community", c, y): (Decimal(h), s, n) for c, y, h, s, n in db.session.execute(
        select(CommunityYearFigures.community_id, CommunityYearFigures.year, CommunityYearFigures.approved_hours,
               CommunityYearFigures.settled_assignments, CommunityYearFigures.no_shows))
        if (Decimal(h), s, n) != (0, 0, 0)})
    summary.update({("units", r, y): n for r, y, n in db.session.execute(
        select(RegionYearUnits.region_id, RegionYearUnits.year, RegionYearUnits.units_active)
        .where(RegionYearUnits.units_active != 0))})
    details = CommunityYearDetails.__table__.c
    for community_id, year, *values in db.session.execute(
            select(details.community_id, details.year, details.attendances, details.appeals_received,
                   *(details[c] for c in CATEGORY_COLUMNS))):
        values = tuple(Decimal(v) for v in values)
        if any(values):
            summary[("details", community_id, year)] = values
    summary.update({("reports", c): (m, u, t) for c, m, u, t in db.session.execute(
        select(CommunityReportCounts.community_id, CommunityReportCounts.members_reported,
               CommunityReportCounts.units_reported, CommunityReportCounts.active_teams)) if (m, u, t) != (0, 0, 0)})
    return summary
