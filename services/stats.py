"""Statistics for a region and each of its child regions, for one local calendar year.

Live computation: the communities within the region are resolved first (a few hundred ids at most), and every
fact table is filtered by ``community_id IN (...)``, so PostgreSQL reads the records of a street or of a whole
district from the ``(community_id, status, started_at)`` index alone (it covers member and hours). Additive
figures are reduced per community in SQL and rolled up to the child regions (a community counts under its street
in a district, under itself in a street); the distinct count of volunteers is taken in SQL from (child region,
member) pairs, so a member serving in two streets counts once for the district. No Python loop over records.

Snapshots: a district's figures take a second to compute at city scale, so each (region, year) overview is kept in
``stats_snapshots`` and served while younger than ``STATS_MAX_AGE_SECONDS``; an older one is recomputed by the
request that finds it (one request per region at a time on PostgreSQL; the others then read its result), and the
``refresh_statistics`` job recomputes every district and street ahead of the requests. ``fresh`` forces a live
computation. A snapshot is only ever served after the caller's scope check.
"""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import case, distinct, func, literal, select, text, union_all
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from clock import local_today, local_year_bounds, utcnow
from errors import ValidationFailed
from extensions import db
from models import Activity, Post, Region, Report, ServiceRecord, Shift, ShiftAssignment, StatsSnapshot
from models.activity import ActivityStatus
from models.post import AssignmentStatus
from models.record import RecordStatus
from models.report import ReportStatus
from services.authz import require_region_staff, staff_of_region
from services.database import commit_batch, is_sqlite

FIGURES = ("members_reported", "units_reported", "activities", "approved_hours", "active_volunteers", "no_show_rate")
DECIMAL_FIGURES = ("approved_hours", "no_show_rate")
DEFAULT_MAX_AGE_SECONDS = 600
# First key of the two-key advisory lock taken while a region's snapshot is recomputed: the bytes of "stat".
SNAPSHOT_LOCK_NAMESPACE = int.from_bytes(b"stat", "big")


def overview(actor, *, region_id=None, year=None, fresh=False):
    """Figures for a region the caller administers (or a region below it) and for each of its children: the
    snapshot while younger than STATS_MAX_AGE_SECONDS, else (or with ``fresh``) computed now and stored."""
    require_region_staff(actor)
    if region_id is None:
        if len(actor.region_ids) != 1:
            raise ValidationFailed({"region_id": ["请指定区域"]})
        region_id = actor.region_ids[0]
    region = staff_of_region(actor, region_id)
    year = year or local_today().year
    if not fresh:
        snapshot = _young_snapshot(region.id, year)
        if snapshot is None:
            # Concurrent requests finding the snapshot stale compute it once: the others wait, then read it.
            _lock_snapshot(region.id)
            snapshot = _young_snapshot(region.id, year)
        if snapshot is not None:
            return snapshot
    return refresh_snapshot(region, year)


def refresh_snapshots(year=None):
    """Recompute and store this year's overview of every district and street, each committed on its own
    (``commit_batch``): a district's figures take a second, and no snapshot waits for all the others."""
    year = year or local_today().year
    region_ids = list(db.session.scalars(
        select(Region.id).where(Region.kind.in_(("district", "street"))).order_by(Region.path)))
    for region_id in region_ids:
        refresh_snapshot(db.session.get(Region, region_id), year)
        commit_batch()
    return len(region_ids)


def refresh_snapshot(region, year):
    """Compute the overview of ``region`` for ``year`` now and upsert it as the snapshot (no commit)."""
    computed_at = utcnow()
    result = {**compute(region, year), "computed_at": computed_at}
    table = StatsSnapshot.__table__
    insert = (sqlite_insert if is_sqlite() else postgresql_insert)(table).values(
        region_id=region.id, year=year, payload=_to_payload(result), computed_at=computed_at)
    # A slower computation that started earlier never overwrites a newer snapshot.
    db.session.execute(insert.on_conflict_do_update(
        index_elements=[table.c.region_id, table.c.year],
        set_={"payload": insert.excluded.payload, "computed_at": insert.excluded.computed_at},
        where=table.c.computed_at < insert.excluded.computed_at))
    return result


def _young_snapshot(region_id, year):
    max_age = current_app.config.get("STATS_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS)
    row = db.session.execute(
        select(StatsSnapshot.payload, StatsSnapshot.computed_at)
        .where(StatsSnapshot.region_id == region_id, StatsSnapshot.year == year,
               StatsSnapshot.computed_at > utcnow() - timedelta(seconds=max_age))).first()
    return None if row is None else {**_from_payload(row.payload), "computed_at": row.computed_at}


def _lock_snapshot(region_id):
    # SQLite needs none: every transaction there already starts with BEGIN IMMEDIATE, one at a time.
    if not is_sqlite():
        db.session.execute(text("SELECT pg_advisory_xact_lock(:namespace, :region_id)"),
                           {"namespace": SNAPSHOT_LOCK_NAMESPACE, "region_id": region_id})


def _to_payload(result):
    def plain(figures):
        return {k: str(v) if k in DECIMAL_FIGURES else v for k, v in figures.items()}

    payload = {k: v for k, v in result.items() if k not in ("children", "computed_at")}
    return {**plain(payload), "children": [plain(child) for child in result["children"]]}


def _from_payload(payload):
    def typed(figures):
        return {k: Decimal(v) if k in DECIMAL_FIGURES else v for k, v in figures.items()}

    return {**typed(payload), "children": [typed(child) for child in payload["children"]]}


def _rate(no_shows, assignments):
    if not assignments:
        return Decimal("0")
    return (Decimal(int(no_shows)) / Decimal(int(assignments))).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


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


def _volunteers(region, buckets, start, end):
    """{region or child id: (approved hours, distinct members with an approved record)} in [start, end)."""
    community = aliased(Region)
    bucket = community.parent_id if region.kind == "district" else ServiceRecord.community_id
    pairs = (select(bucket.label("bucket_id"), ServiceRecord.member_id, func.sum(ServiceRecord.hours).label("hours"))
             .select_from(ServiceRecord)
             .where(ServiceRecord.community_id.in_(list(buckets)), ServiceRecord.status == RecordStatus.APPROVED,
                    ServiceRecord.started_at >= start, ServiceRecord.started_at < end)
             .group_by(bucket, ServiceRecord.member_id))
    if region.kind == "district":
        pairs = pairs.join(community, community.id == ServiceRecord.community_id)
    pairs = pairs.cte("pairs")
    # One scan of the records serves both levels: per child (a member counts once per child) and the whole region.
    per_child = select(pairs.c.bucket_id, func.sum(pairs.c.hours), func.count()).group_by(pairs.c.bucket_id)
    whole = select(literal(region.id), func.sum(pairs.c.hours), func.count(distinct(pairs.c.member_id)))
    rows = db.session.execute(union_all(per_child, whole))
    return {bucket_id: (hours or 0, count) for bucket_id, hours, count in rows}


def compute(region, year):
    """The overview of ``region`` for ``year``, computed now from the records."""
    start, end = local_year_bounds(year)
    buckets = _buckets(region)
    communities = list(buckets)

    reports = _roll_up(region, buckets, db.session.execute(
        select(Report.community_id, func.count(case((Report.kind == "member", Report.id))),
               func.count(case((Report.kind == "unit", Report.id))))
        .where(Report.community_id.in_(communities), Report.status == ReportStatus.APPROVED)
        .group_by(Report.community_id)))
    activities = _roll_up(region, buckets, db.session.execute(
        select(Activity.community_id, func.count(Activity.id))
        .where(Activity.community_id.in_(communities), Activity.starts_at >= start, Activity.starts_at < end,
               Activity.status != ActivityStatus.CANCELLED)
        .group_by(Activity.community_id)))
    # Only shifts that have ended by now can have a no-show.
    ended_by = min(end, utcnow())
    attendance = _roll_up(region, buckets, db.session.execute(
        select(Post.community_id,
               func.count(case((ShiftAssignment.status == AssignmentStatus.NO_SHOW, ShiftAssignment.id))),
               func.count(ShiftAssignment.id))
        .join(Shift, Shift.post_id == Post.id).join(ShiftAssignment, ShiftAssignment.shift_id == Shift.id)
        .where(Post.community_id.in_(communities), Shift.ends_at >= start, Shift.ends_at < ended_by,
               ShiftAssignment.status.not_in(AssignmentStatus.LEFT))
        .group_by(Post.community_id)))
    service = _volunteers(region, buckets, start, end)

    def figures(bucket_id):
        members, units = reports.get(bucket_id, (0, 0))
        hours, volunteers = service.get(bucket_id, (0, 0))
        no_shows, assigned = attendance.get(bucket_id, (0, 0))
        return {
            "members_reported": int(members),
            "units_reported": int(units),
            "activities": int(activities.get(bucket_id, (0,))[0]),
            "approved_hours": Decimal(hours),
            "active_volunteers": int(volunteers),
            "no_show_rate": _rate(no_shows, assigned),
        }

    children = db.session.scalars(select(Region).where(Region.parent_id == region.id).order_by(Region.id))
    return {
        "region_id": region.id,
        "name": region.name,
        "kind": region.kind,
        "year": year,
        **figures(region.id),
        "children": [{"region_id": c.id, "name": c.name, "kind": c.kind, **figures(c.id)} for c in children],
    }
