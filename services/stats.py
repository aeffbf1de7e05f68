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

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import distinct, func, literal, select, union_all
from sqlalchemy.orm import aliased

from clock import local_today, local_year_bounds, utcnow
from errors import ValidationFailed
from extensions import db
from models import Activity, Post, Region, Report, ServiceRecord, Shift, ShiftAssignment
from models.activity import ActivityStatus
from models.post import AssignmentStatus
from models.record import RecordStatus
from models.report import ReportStatus
from services import rollups
from services.authz import require_region_staff, staff_of_region
from services.teams import teams_within

FIGURES = ("members_reported", "units_reported", "activities", "approved_hours", "active_volunteers", "no_show_rate",
           "teams")


def overview(actor, *, region_id=None, year=None, fresh=False):
    """Figures for a region the caller administers (or a region below it) and for each of its children, live.
    ``fresh`` is still accepted from clients written when the figures were snapshots: every answer is fresh now."""
    require_region_staff(actor)
    if region_id is None:
        if len(actor.region_ids) != 1:
            raise ValidationFailed({"region_id": ["请指定区域"]})
        region_id = actor.region_ids[0]
    region = staff_of_region(actor, region_id)
    year = year or local_today().year
    buckets = _buckets(region)
    children = list(db.session.scalars(select(Region).where(Region.parent_id == region.id).order_by(Region.id)))
    per_community, volunteers = rollups.figures(region, year)
    totals = _roll_up(region, buckets, ((c, *values) for c, values in per_community.items()))
    activities = _activities(region, buckets, year)

    def figures(bucket_id):
        hours, settled, no_shows, members, units = totals.get(bucket_id, (0, 0, 0, 0, 0))
        return _figures(members, units, activities.get(bucket_id, (0,))[0], hours, volunteers.get(bucket_id, 0),
                        no_shows, settled)

    return _answer(region, year, children, figures)


def _figures(members, units, activities, hours, volunteers, no_shows, settled):
    return {
        "members_reported": int(members),
        "units_reported": int(units),
        "activities": int(activities),
        "approved_hours": Decimal(hours),
        "active_volunteers": int(volunteers),
        "no_show_rate": _rate(no_shows, settled),
    }


def _answer(region, year, children, figures):
    children = list(children)
    # Live, not per year: the active teams of the region's communities and their units, now.
    teams = teams_within(region.path, *(c.path for c in children))
    return {
        "region_id": region.id,
        "name": region.name,
        "kind": region.kind,
        "year": year,
        **figures(region.id),
        "teams": teams[region.path],
        "children": [{"region_id": c.id, "name": c.name, "kind": c.kind, **figures(c.id), "teams": teams[c.path]}
                     for c in children],
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


def _activities(region, buckets, year):
    start, end = local_year_bounds(year)
    join, inside = rollups.within(region, Activity.community_id)
    return _roll_up(region, buckets, db.session.execute(
        select(Activity.community_id, func.count(Activity.id)).join(Region, join)
        .where(inside, Activity.starts_at >= start, Activity.starts_at < end,
               Activity.status != ActivityStatus.CANCELLED)
        .group_by(Activity.community_id)))


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
    """The overview of ``region`` for ``year``, recomputed from the records, reports and shift assignments: what
    the rollups must always equal."""
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
    activities = _activities(region, buckets, year)
    service = _volunteers(region, buckets, start, end)

    def figures(bucket_id):
        members, units = reports.get(bucket_id, (0, 0))
        hours, volunteers = service.get(bucket_id, (0, 0))
        no_shows, settled = attendance.get(bucket_id, (0, 0))
        return _figures(members, units, activities.get(bucket_id, (0,))[0], hours, volunteers, no_shows, settled)

    children = db.session.scalars(select(Region).where(Region.parent_id == region.id).order_by(Region.id))
    return _answer(region, year, children, figures)
