"""Statistics for a region and each of its child regions, for one local calendar year.

Every figure is one SQL query: the facts are reduced per community (per community and member for the distinct
count of volunteers), then rolled up by "bucket": each community at or below the region is mapped (by a
``Region.path`` prefix join) to the region itself and to the child region that contains it, so a fact counts once for
the region and once for its child, and distinct counts stay right at both levels. No Python loop over records.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import case, distinct, func, literal, select, union_all
from sqlalchemy.orm import aliased

from errors import ValidationFailed
from extensions import db
from models import Activity, Post, Region, Report, ServiceRecord, Shift, ShiftAssignment
from services.authz import require_region_admin, require_region_staff
from services.clock import local_day_start, local_today, utcnow

FIGURES = ("members_reported", "units_reported", "activities", "approved_hours", "active_volunteers", "no_show_rate")
EXCLUDED_ASSIGNMENTS = ("declined", "replaced")


def _buckets(region):
    """(community_id, bucket_id) for every community within ``region``: once under the region, once under its child."""
    community = aliased(Region)
    child = aliased(Region)
    own = select(community.id.label("community_id"), literal(region.id).label("bucket_id")).where(
        community.kind == "community", community.path.startswith(region.path))
    below = (select(community.id.label("community_id"), child.id.label("bucket_id"))
             .join(child, community.path.startswith(child.path))
             .where(child.parent_id == region.id, community.kind == "community"))
    return union_all(own, below).subquery("buckets")


def _by_bucket(buckets, per_community, *values):
    """Roll a per-community subquery up to the buckets: {bucket_id: (value, ...)}."""
    query = (select(buckets.c.bucket_id, *values).select_from(per_community)
             .join(buckets, buckets.c.community_id == per_community.c.community_id).group_by(buckets.c.bucket_id))
    return {row[0]: tuple(row[1:]) for row in db.session.execute(query)}


def _rate(no_shows, assignments):
    if not assignments:
        return Decimal("0")
    return (Decimal(int(no_shows)) / Decimal(int(assignments))).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def overview(actor, region_id=None, year=None):
    """Figures for a region the caller administers (or a region below it) and for each of its children."""
    require_region_staff(actor)
    if region_id is None:
        if len(actor.region_ids) != 1:
            raise ValidationFailed({"region_id": ["请指定区域"]})
        region_id = actor.region_ids[0]
    region = require_region_admin(actor, region_id)
    year = year or local_today().year
    start, end = local_day_start(date(year, 1, 1)), local_day_start(date(year + 1, 1, 1))
    buckets = _buckets(region)
    # Restricts each per-community reduction to the region up front, so a community's figures read only its rows.
    within = select(Region.id).where(Region.kind == "community", Region.path.startswith(region.path))

    # Each fact table is first reduced per community (or per community and member, for the distinct count), so
    # the roll-up joins a few thousand rows rather than every record twice.
    reports = (select(Report.community_id,
                      func.count(case((Report.kind == "member", Report.id))).label("members"),
                      func.count(case((Report.kind == "unit", Report.id))).label("units"))
               .where(Report.community_id.in_(within), Report.status == "approved")
               .group_by(Report.community_id).subquery())
    reports = _by_bucket(buckets, reports, func.sum(reports.c.members), func.sum(reports.c.units))
    activities = (select(Activity.community_id, func.count(Activity.id).label("activities"))
                  .where(Activity.community_id.in_(within), Activity.starts_at >= start, Activity.starts_at < end,
                         Activity.status != "cancelled")
                  .group_by(Activity.community_id).subquery())
    activities = _by_bucket(buckets, activities, func.sum(activities.c.activities))
    served = (select(ServiceRecord.community_id, ServiceRecord.member_id, func.sum(ServiceRecord.hours).label("hours"))
              .where(ServiceRecord.community_id.in_(within), ServiceRecord.status == "approved",
                     ServiceRecord.started_at >= start,
                     ServiceRecord.started_at < end)
              .group_by(ServiceRecord.community_id, ServiceRecord.member_id).subquery())
    service = _by_bucket(buckets, served, func.sum(served.c.hours), func.count(distinct(served.c.member_id)))
    # Only shifts that have ended by now can have a no-show.
    ended_by = min(end, utcnow())
    assignments = (select(Post.community_id,
                          func.count(case((ShiftAssignment.status == "no_show", ShiftAssignment.id))).label("no_shows"),
                          func.count(ShiftAssignment.id).label("assignments"))
                   .join(Shift, Shift.post_id == Post.id).join(ShiftAssignment, ShiftAssignment.shift_id == Shift.id)
                   .where(Post.community_id.in_(within), Shift.ends_at >= start, Shift.ends_at < ended_by,
                          ShiftAssignment.status.not_in(EXCLUDED_ASSIGNMENTS))
                   .group_by(Post.community_id).subquery())
    attendance = _by_bucket(buckets, assignments, func.sum(assignments.c.no_shows),
                            func.sum(assignments.c.assignments))

    def figures(bucket_id):
        members, units = reports.get(bucket_id, (0, 0))
        hours, volunteers = service.get(bucket_id, (0, 0))
        no_shows, assigned = attendance.get(bucket_id, (0, 0))
        return {
            "members_reported": int(members),
            "units_reported": int(units),
            "activities": int(activities.get(bucket_id, (0,))[0]),
            "approved_hours": Decimal(hours or 0),
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
