"""The three rates of 接诉即办 for a region and each child region: ``GET /stats/appeals``.

Appeals submitted on local dates ``from``..``to`` (default: this year) in the region's communities, reduced per
community in one SQL query and rolled up as ``/stats/overview`` does (a community counts under its street in a
district, under itself in a street):

- response rate = accepted or rejected within the response deadline ÷ received, leaving out what cannot be judged
  yet: an appeal never answered that is still inside its deadline (or was withdrawn inside it);
- resolution rate = resolved by the end of its due date ÷ accepted (ever);
- satisfaction rate = scores of 4 or 5 ÷ scores given.

Rates have 4 decimal places, null when their denominator is 0. ``escalated`` counts appeals ever escalated,
``overdue`` those overdue now (or resolved late); ``by_kind`` and ``by_source`` have every key.
"""

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, case, func, or_, select

from clock import local_today, utcnow, within_local_days
from errors import ValidationFailed
from extensions import db
from models import Appeal, Region
from models.appeal import APPEAL_KINDS, APPEAL_SOURCES
from services.authz import require_community_staff, staff_of_region
from services.stats import _buckets, _roll_up

COUNTS = ("received", "responded_in_time", "response_judged", "accepted", "resolved_in_time", "scores",
          "satisfied", "escalated", "overdue")


def _count(condition):
    return func.count(case((condition, Appeal.id)))


def _columns(now):
    return [
        func.count(Appeal.id),
        _count(and_(Appeal.responded_at.is_not(None), Appeal.responded_at <= Appeal.response_due_at)),
        _count(or_(Appeal.responded_at.is_not(None), func.coalesce(Appeal.ended_at, now) > Appeal.response_due_at)),
        _count(Appeal.accepted_at.is_not(None)),
        _count(and_(Appeal.resolved_at.is_not(None), Appeal.resolved_at < Appeal.due_at)),
        _count(Appeal.rating_score.is_not(None)),
        _count(Appeal.rating_score >= 4),
        _count(Appeal.escalated_at.is_not(None)),
        _count(and_(Appeal.due_at.is_not(None), func.coalesce(Appeal.ended_at, now) >= Appeal.due_at)),
        *(_count(Appeal.kind == kind) for kind in APPEAL_KINDS),
        *(_count(Appeal.source == source) for source in APPEAL_SOURCES),
    ]


def _rate(numerator, denominator):
    if not denominator:
        return None
    return (Decimal(int(numerator)) / Decimal(int(denominator))).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _figures(values):
    counts = dict(zip(COUNTS, values[:len(COUNTS)], strict=True))
    kinds = values[len(COUNTS):len(COUNTS) + len(APPEAL_KINDS)]
    sources = values[len(COUNTS) + len(APPEAL_KINDS):]
    return {
        "received": int(counts["received"]),
        "response_rate": _rate(counts["responded_in_time"], counts["response_judged"]),
        "resolution_rate": _rate(counts["resolved_in_time"], counts["accepted"]),
        "satisfaction_rate": _rate(counts["satisfied"], counts["scores"]),
        "accepted": int(counts["accepted"]),
        "escalated": int(counts["escalated"]),
        "overdue": int(counts["overdue"]),
        "rated": int(counts["scores"]),
        "by_kind": dict(zip(APPEAL_KINDS, map(int, kinds), strict=True)),
        "by_source": dict(zip(APPEAL_SOURCES, map(int, sources), strict=True)),
    }


def appeal_stats(actor, *, region_id=None, date_from=None, date_to=None):
    require_community_staff(actor)
    today = local_today()
    date_from = date_from or today.replace(month=1, day=1)
    date_to = date_to or today.replace(month=12, day=31)
    if date_from > date_to:
        raise ValidationFailed({"from": ["开始日期不能晚于结束日期"]})
    if region_id is None:
        if len(actor.region_ids) != 1:
            raise ValidationFailed({"region_id": ["请指定区域"]})
        region_id = actor.region_ids[0]
    region = staff_of_region(actor, region_id)
    buckets = _buckets(region) if region.kind != "community" else {region.id: region.id}
    rows = db.session.execute(
        select(Appeal.community_id, *_columns(utcnow()))
        .where(Appeal.community_id.in_(list(buckets)), *within_local_days(Appeal.created_at, date_from, date_to))
        .group_by(Appeal.community_id)) if buckets else []
    totals = _roll_up(region, buckets, rows)
    empty = [0] * (len(COUNTS) + len(APPEAL_KINDS) + len(APPEAL_SOURCES))

    def figures(bucket_id):
        return _figures(totals.get(bucket_id, empty))

    children = db.session.scalars(select(Region).where(Region.parent_id == region.id).order_by(Region.id))
    return {"region_id": region.id, "name": region.name, "kind": region.kind, "from": date_from, "to": date_to,
            **figures(region.id),
            "children": [{"region_id": c.id, "name": c.name, "kind": c.kind, **figures(c.id)} for c in children]}
