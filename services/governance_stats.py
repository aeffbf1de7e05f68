"""Co-governance figures per community (``GET /stats/governance``): the 五方 mechanism asks each community for at
least one joint meeting a month.

For a local calendar year, per community of the region (the region itself if it is a community), a page at a time:

- ``joint_meetings``: held joint meetings that started in the year;
- ``months_without_joint_meeting``: the months 1 .. the current one (all twelve for a past year, none for a future
  one) in which no held joint meeting started, by local time;
- ``decisions``: decisions of the meetings held in the year;
- ``tasks_open`` and ``tasks_overdue``: the tasks of those meetings still open now, and those of them past due.

Two grouped queries for the page's communities, whatever their number (a meeting row keeps its decisions' count).
"""

from datetime import date

from sqlalchemy import and_, case, func, select

from clock import local_day_start, local_today
from errors import ValidationFailed
from extensions import db
from models import Meeting, MeetingTask, Region
from models.governance import MeetingStatus, TaskStatus
from services.authz import require_community_staff, staff_of_region


def communities_of(actor, *, region_id=None, year=None):
    """The region's communities (a query, by id) and the year, for community staff of the region (or above)."""
    require_community_staff(actor)
    if region_id is None:
        if len(actor.region_ids) != 1:
            raise ValidationFailed({"region_id": ["请指定区域"]})
        region_id = actor.region_ids[0]
    region = staff_of_region(actor, region_id)
    query = select(Region).where(Region.kind == "community", Region.path.startswith(region.path)).order_by(Region.id)
    return region, year or local_today().year, query


def month_starts(year):
    return [local_day_start(date(year, month, 1)) for month in range(1, 13)] + [local_day_start(date(year + 1, 1, 1))]


def months_counted(year, today):
    """The months of ``year`` up to the current one."""
    if year < today.year:
        return 12
    return today.month if year == today.year else 0


def _in_year(starts):
    return (Meeting.starts_at >= starts[0], Meeting.starts_at < starts[12])


def held_by_community(community_ids, starts):
    """Per community, its held joint meetings in each local month of the year (12 counts), then the decisions of all
    its meetings held in the year: one pass over the year's rows of ``ix_meetings_community_starts``."""
    joint = Meeting.kind == "joint"
    return (select(Meeting.community_id,
                   *(func.count(case((and_(joint, Meeting.starts_at >= starts[m], Meeting.starts_at < starts[m + 1]),
                                      Meeting.id))) for m in range(12)),
                   func.coalesce(func.sum(Meeting.decision_count), 0))
            .where(Meeting.community_id.in_(community_ids), Meeting.status == MeetingStatus.HELD, *_in_year(starts))
            .group_by(Meeting.community_id))


def tasks_by_community(community_ids, starts, today):
    """Per community, the tasks of the year's meetings still open, and those of them past due: only open tasks are
    read (``ix_meeting_tasks_community_status_due``)."""
    return (select(MeetingTask.community_id, func.count(MeetingTask.id),
                   func.count(case((MeetingTask.due_date < today, MeetingTask.id))))
            .where(MeetingTask.community_id.in_(community_ids), MeetingTask.status == TaskStatus.OPEN,
                   MeetingTask.meeting_starts_at >= starts[0], MeetingTask.meeting_starts_at < starts[12])
            .group_by(MeetingTask.community_id))


def figures(communities, year):
    ids = [c.id for c in communities]
    if not ids:
        return []
    today = local_today()
    starts = month_starts(year)
    held = {row[0]: row[1:] for row in db.session.execute(held_by_community(ids, starts))}
    tasks = {row[0]: row[1:] for row in db.session.execute(tasks_by_community(ids, starts, today))}
    counted = months_counted(year, today)
    shown = []
    for community in communities:
        *per_month, decisions = held.get(community.id, (0,) * 13)
        tasks_open, tasks_overdue = tasks.get(community.id, (0, 0))
        shown.append({
            "community_id": community.id, "name": community.name, "joint_meetings": sum(per_month),
            "months_without_joint_meeting": [m + 1 for m in range(counted) if not per_month[m]],
            "decisions": int(decisions), "tasks_open": tasks_open, "tasks_overdue": tasks_overdue})
    return shown
