"""Co-governance figures per community (``GET /stats/governance``): the 五方 mechanism asks each community for at
least one joint meeting a month.

For a local calendar year, per community of the region (the region itself if it is a community), a page at a time:

- ``joint_meetings``: held joint meetings that started in the year;
- ``months_without_joint_meeting``: the months 1 .. the current one (all twelve for a past year, none for a future
  one) in which no held joint meeting started, by local time;
- ``decisions``: decisions of the meetings held in the year;
- ``tasks_open`` and ``tasks_overdue``: the tasks of those meetings still open now, and those of them past due.

Three grouped queries for the page's communities, whatever their number.
"""

from datetime import date

from sqlalchemy import and_, case, func, select

from clock import local_day_start, local_today
from errors import ValidationFailed
from extensions import db
from models import Meeting, MeetingDecision, MeetingTask, Region
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


def _month_starts(year):
    return [local_day_start(date(year, month, 1)) for month in range(1, 13)] + [local_day_start(date(year + 1, 1, 1))]


def months_counted(year, today):
    """The months of ``year`` up to the current one."""
    if year < today.year:
        return 12
    return today.month if year == today.year else 0


def figures(communities, year):
    ids = [c.id for c in communities]
    if not ids:
        return []
    today = local_today()
    starts = _month_starts(year)
    in_year = (Meeting.starts_at >= starts[0], Meeting.starts_at < starts[12])
    joint = {row[0]: row[1:] for row in db.session.execute(
        select(Meeting.community_id, *(func.count(case((and_(Meeting.starts_at >= starts[m],
                                                             Meeting.starts_at < starts[m + 1]), Meeting.id)))
                                       for m in range(12)))
        .where(Meeting.community_id.in_(ids), Meeting.kind == "joint", Meeting.status == MeetingStatus.HELD, *in_year)
        .group_by(Meeting.community_id))}
    decisions = dict(db.session.execute(
        select(Meeting.community_id, func.count(MeetingDecision.id))
        .join(MeetingDecision, MeetingDecision.meeting_id == Meeting.id)
        .where(Meeting.community_id.in_(ids), Meeting.status == MeetingStatus.HELD, *in_year)
        .group_by(Meeting.community_id)).all())
    open_task = MeetingTask.status == TaskStatus.OPEN
    tasks = {row[0]: row[1:] for row in db.session.execute(
        select(MeetingTask.community_id, func.count(case((open_task, MeetingTask.id))),
               func.count(case((and_(open_task, MeetingTask.due_date < today), MeetingTask.id))))
        .join(Meeting, Meeting.id == MeetingTask.meeting_id)
        .where(MeetingTask.community_id.in_(ids), *in_year)
        .group_by(MeetingTask.community_id))}
    counted = months_counted(year, today)
    shown = []
    for community in communities:
        per_month = joint.get(community.id, (0,) * 12)
        tasks_open, tasks_overdue = tasks.get(community.id, (0, 0))
        shown.append({
            "community_id": community.id, "name": community.name, "joint_meetings": sum(per_month),
            "months_without_joint_meeting": [m + 1 for m in range(counted) if not per_month[m]],
            "decisions": decisions.get(community.id, 0), "tasks_open": tasks_open, "tasks_overdue": tasks_overdue})
    return shown
