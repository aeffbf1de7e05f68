"""What the console (console/) shows that no single API list answers: the counts of what waits for a staff member,
and the figures of its home region. Every count reuses the services' own scoped queries."""

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, false, func, select, true

from clock import local_day_start, local_today, utcnow
from extensions import db
from models import Activity, Appeal, AppealEscalation, Meeting, Post, Region, ServiceRecord, Shift, Wish
from models.appeal import AppealStatus, EscalationStatus
from models.record import RecordStatus
from models.wish import WishStatus
from services import appeal_stats, appeals, records, reports, stats, tasks
from services.authz import communities_within, require_any_staff, staff_of_region

# Shifts starting within this many days with a free seat count as "short of seats".
SHORT_SHIFT_DAYS = 7


def count(query):
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def _in_communities(actor, column):
    communities = communities_within(actor)
    if communities is None:
        return true()
    return column.in_(communities) if communities else false()


def short_shifts(actor):
    """Coming shifts (the next ``SHORT_SHIFT_DAYS`` days) of the actor's communities' posts with a free seat."""
    now = utcnow()
    return (select(Shift).join(Post, Post.id == Shift.post_id)
            .where(_in_communities(actor, Post.community_id), Shift.starts_at >= now,
                   Shift.starts_at < now + timedelta(days=SHORT_SHIFT_DAYS), Shift.filled < Shift.seats)
            .order_by(Shift.starts_at, Shift.id))


def overdue_wishes(actor):
    """Wishes of the actor's communities still open or claimed after their local deadline."""
    return (select(Wish).where(_in_communities(actor, Wish.community_id),
                               Wish.status.in_((WishStatus.OPEN, WishStatus.CLAIMED)), Wish.deadline < local_today())
            .order_by(Wish.deadline, Wish.id))


def appeals_in_work(actor, **filters):
    """``appeals.list_appeals`` of the appeals still in the community's or a department's hands (accepted or
    escalated): an overdue one there still waits, one resolved late no longer does."""
    return appeals.list_appeals(actor, **filters).where(Appeal.status.in_(AppealStatus.IN_WORK))


def waiting(actor):
    """{name: count} of what waits for this staff member, only the kinds its role may act on."""
    require_any_staff(actor)
    counts = {}
    if actor.is_staff:
        counts["reports"] = count(reports.list_reports(actor, status="pending"))
        counts["records"] = count(records.list_records(actor, status="pending"))
        counts["tasks"] = count(tasks.list_tasks(actor, status="overdue"))
    if actor.is_region_staff or actor.is_department_staff:
        counts["appeals_late"] = count(appeals.list_appeals(actor, status="submitted", late=True))
        counts["appeals_overdue"] = count(appeals_in_work(actor, overdue=True))
    if actor.is_department_staff:
        counts["escalations_open"] = count(select(AppealEscalation).where(
            AppealEscalation.department_id.in_(actor.department_ids),
            AppealEscalation.status == EscalationStatus.OPEN))
    if actor.is_region_staff:
        counts["shifts_short"] = count(short_shifts(actor))
        counts["wishes_overdue"] = count(overdue_wishes(actor))
    return counts


def home_region(actor):
    """The region the dashboard's figures are for: the actor's only region, else its first; a sysadmin's first
    top-level region. None for staff without a region (unit and department admins)."""
    if actor.region_ids:
        return db.session.get(Region, sorted(actor.region_ids)[0])
    if actor.is_sysadmin:
        return db.session.scalar(select(Region).where(Region.parent_id.is_(None)).order_by(Region.id))
    return None


def figures(actor, region_id=None, year=None):
    """This year's service figures and the three appeal rates for a region the actor covers (its home region by
    default); None for staff without a region."""
    region_id = region_id or getattr(home_region(actor), "id", None)
    if region_id is None:
        return None
    service = stats.overview(actor, region_id=region_id, year=year)
    return {"service": service, "appeals": appeal_stats.appeal_stats(actor, region_id=region_id)}


def names(model, ids, column="name"):
    """{id: name} of these rows, in one query, for a page's labels."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, getattr(model, column)).where(model.id.in_(ids))).all())


def rows(query, limit=500):
    """The rows of a service's list query (a short list: a record's history, a community's departments)."""
    return db.session.scalars(query.limit(limit))


def post_names(post_ids):
    return names(Post, post_ids)


def communities(actor):
    """The communities the actor administers (or lie below its regions), by name: the choices of a form."""
    ids = communities_within(actor)
    query = select(Region).where(Region.kind == "community").order_by(Region.path)
    if ids is not None:
        query = query.where(Region.id.in_(ids or [0]))
    return list(db.session.scalars(query.limit(1000)))


def activities(actor, **filters):
    """``activities.list_activities`` within the actor's communities (the API's list is everyone's)."""
    from services.activities import list_activities

    return list_activities(**filters).where(_in_communities(actor, Activity.community_id))


def posts(actor):
    """The duty posts of the actor's communities."""
    return select(Post).where(_in_communities(actor, Post.community_id)).order_by(Post.community_id, Post.id)


def meetings(actor, **filters):
    """``meetings.list_meetings`` within the actor's communities."""
    from services.meetings import list_meetings

    return list_meetings(**filters).where(_in_communities(actor, Meeting.community_id))


def _approved_in_year(actor, region_id, year):
    """The region (covered by the actor), the year's local bounds, and the filter of its approved records there:
    ``community_id IN (constants)``, which the planner reads from the covering index, not a joined subquery."""
    region = staff_of_region(actor, region_id)
    ids = list(db.session.scalars(select(Region.id).where(Region.kind == "community",
                                                          Region.path.startswith(region.path))))
    start, end = local_day_start(date(year, 1, 1)), local_day_start(date(year + 1, 1, 1))
    return region, (ServiceRecord.community_id.in_(ids or [0]), ServiceRecord.status == RecordStatus.APPROVED,
                    ServiceRecord.started_at >= start, ServiceRecord.started_at < end)


def service_breakdown(actor, *, region_id, year):
    """Approved hours of a region the actor covers in a local year, by local month (12 figures, one grouped query)
    and by category (the overview's rollup)."""
    region, approved = _approved_in_year(actor, region_id, year)
    starts = [local_day_start(date(year, month, 1)) for month in range(1, 13)] + [
        local_day_start(date(year + 1, 1, 1))]
    months = db.session.execute(select(*[
        func.coalesce(func.sum(case((and_(ServiceRecord.started_at >= starts[i], ServiceRecord.started_at
                                          < starts[i + 1]), ServiceRecord.hours), else_=0)), 0)
        for i in range(12)]).where(*approved)).one()
    categories = stats.overview(actor, region_id=region.id, year=year)["hours_by_category"]
    return {"region": region, "year": year, "by_month": [Decimal(m or 0) for m in months],
            "by_category": sorted(((c, Decimal(h)) for c, h in categories.items() if h), key=lambda item: -item[1])}


def chart_regions(actor, region):
    """The regions a chart may be switched to: the actor's own, ``region`` and ``region``'s children and parent
    where the actor covers them."""
    candidates = {r.id: r for r in db.session.scalars(select(Region).where(
        (Region.id.in_([*actor.region_ids, region.id, region.parent_id or 0])) | (Region.parent_id == region.id)))}
    if actor.is_sysadmin:
        candidates.update({r.id: r for r in db.session.scalars(select(Region).where(Region.parent_id.is_(None)))})
    return sorted((r for r in candidates.values() if actor.covers_region(r)), key=lambda r: r.path)
