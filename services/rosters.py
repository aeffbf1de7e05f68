"""Rosters (排班): shifts generated from weekly templates and filled fairly from the post's volunteer pool.

Generation keeps shifts for the next ``HORIZON_DAYS`` local days; a template whose end is at or before its start
ends the next day. A shift is unique on (template, start), so generating twice, or from two processes at once,
never duplicates one (``INSERT ... ON CONFLICT DO NOTHING``).

Filling takes members only from the post's pool (they volunteered), never one member at overlapping times, never on
a local date or weekday the member marked unavailable (every date the shift touches counts), and picks the member
with the fewest shifts at this post within four weeks either side of the shift, then the one who served (or is
due) least recently, then the earliest to join the pool.
"""

import logging
from bisect import insort
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from extensions import db
from models import Attendance, PoolMembership, Post, Shift, ShiftAssignment, ShiftTemplate, User
from services import notifications
from services.clock import local_day_start, local_today, local_zone, to_local, utcnow
from services.database import is_sqlite
from services.holidays import template_runs_on
from services.shifts import HELD, add_assignment, take_seat

log = logging.getLogger("baodao.rosters")

HORIZON_DAYS = 14
FAIRNESS_WINDOW = timedelta(weeks=4)


def clock(value):
    hours, minutes = value.split(":")
    return int(hours), int(minutes)


def shift_bounds(day, start, end):
    """UTC start and end of a template's shift on a local date; an end at or before the start is the next day."""
    zone = local_zone()
    (sh, sm), (eh, em) = clock(start), clock(end)
    end_day = day if (eh, em) > (sh, sm) else day + timedelta(days=1)
    starts = datetime(day.year, day.month, day.day, sh, sm, tzinfo=zone)
    ends = datetime(end_day.year, end_day.month, end_day.day, eh, em, tzinfo=zone)
    return starts.astimezone(UTC), ends.astimezone(UTC)


def planned_shifts(template, today, now, days=HORIZON_DAYS, taken_days=frozenset()):
    """The shifts a template asks for from ``today`` on: not on a day it already has a shift (one kept through an
    edit because someone holds it), and not once started."""
    rows = []
    for offset in range(days):
        day = today + timedelta(days=offset)
        if day in taken_days or not template_runs_on(day, template.weekdays, template.skip_holidays):
            continue
        starts, ends = shift_bounds(day, template.start, template.end)
        if starts <= now:
            continue
        rows.append({"post_id": template.post_id, "template_id": template.id, "starts_at": starts,
                     "ends_at": ends, "seats": template.seats, "filled": 0, "created_at": now})
    return rows


def generate_rosters(post_ids=None, days=HORIZON_DAYS):
    """Keep every active template's shifts for the next ``days`` local days, then fill free seats from the pools.

    Idempotent: an existing shift (same template and start) is left as it is.
    """
    now, today = utcnow(), local_today()
    query = select(ShiftTemplate).where(ShiftTemplate.active.is_(True)).order_by(ShiftTemplate.id)
    if post_ids is not None:
        query = query.where(ShiftTemplate.post_id.in_(post_ids))
    templates = list(db.session.scalars(query))
    taken = {}
    if templates:
        existing = db.session.execute(select(Shift.template_id, Shift.starts_at).where(
            Shift.template_id.in_([t.id for t in templates]), Shift.starts_at >= local_day_start(today)))
        for template_id, starts_at in existing:
            taken.setdefault(template_id, set()).add(to_local(starts_at).date())
    rows = [row for template in templates
            for row in planned_shifts(template, today, now, days, frozenset(taken.get(template.id, ())))]
    created = 0
    insert = sqlite_insert if is_sqlite() else pg_insert
    for chunk in (rows[i:i + 500] for i in range(0, len(rows), 500)):
        result = db.session.execute(insert(Shift).values(chunk)
                                    .on_conflict_do_nothing(index_elements=["template_id", "starts_at"])
                                    .returning(Shift.id))
        created += len(result.all())
    db.session.commit()
    assigned = 0
    for post_id in sorted({t.post_id for t in templates}):
        assigned += fill_post(post_id, days)
    if created or assigned:
        log.info("rosters: %s shifts created, %s seats filled", created, assigned)
    return {"shifts_created": created, "seats_filled": assigned}


def _touched_dates(shift):
    first = to_local(shift.starts_at).date()
    last = to_local(shift.ends_at - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def is_available(member, shift):
    weekdays = set(member.unavailable_weekdays or [])
    dates = set(member.unavailable_dates or [])
    return not any(d.isoweekday() in weekdays or d.isoformat() in dates for d in _touched_dates(shift))


class PoolLedger:
    """What the fill needs to know about each pool member: their shifts (any post) and their turns at this post."""

    def __init__(self, post_id, member_ids, since):
        self.post_id = post_id
        self.busy = {m: [] for m in member_ids}       # member -> [(starts, ends, shift_id)] at any post
        self.turns = {m: [] for m in member_ids}      # member -> sorted starts of shifts at this post
        rows = db.session.execute(
            select(ShiftAssignment.member_id, Shift.id, Shift.post_id, Shift.starts_at, Shift.ends_at)
            .join(Shift, Shift.id == ShiftAssignment.shift_id)
            .where(ShiftAssignment.member_id.in_(member_ids), ShiftAssignment.status.in_(HELD),
                   Shift.ends_at > since))
        for member_id, shift_id, post, starts, ends in rows:
            self.record(member_id, shift_id, post, starts, ends)

    def record(self, member_id, shift_id, post_id, starts, ends):
        self.busy[member_id].append((starts, ends, shift_id))
        if post_id == self.post_id:
            insort(self.turns[member_id], starts)

    def can_take(self, member_id, shift):
        return not any(s < shift.ends_at and e > shift.starts_at for s, e, _ in self.busy[member_id])

    def priority(self, member_id, shift):
        low, high = shift.starts_at - FAIRNESS_WINDOW, shift.starts_at + FAIRNESS_WINDOW
        turns = self.turns[member_id]
        load = sum(1 for t in turns if low <= t < high)
        last = turns[-1] if turns else datetime.min.replace(tzinfo=UTC)
        return load, last


def fill_post(post_id, days=HORIZON_DAYS):
    """Fill the free seats of one post's coming shifts from its pool, fairly; one transaction per post.

    Lock order is the post row (two fills of one post run one after the other), then the pool members' rows in id
    order, then shifts: the same member-before-shift order as a sign-up, so the two never deadlock.
    """
    now = utcnow()
    horizon_end = local_day_start(local_today() + timedelta(days=days + 1))
    db.session.execute(select(Post.id).where(Post.id == post_id).with_for_update())
    pool_order = list(db.session.scalars(
        select(PoolMembership.member_id).where(PoolMembership.post_id == post_id).order_by(PoolMembership.id)))
    shifts = list(db.session.scalars(
        select(Shift).where(Shift.post_id == post_id, Shift.starts_at > now, Shift.starts_at < horizon_end,
                            Shift.filled < Shift.seats).order_by(Shift.starts_at, Shift.id)))
    if not pool_order or not shifts:
        db.session.commit()
        return 0
    members = {m.id: m for m in db.session.scalars(
        select(User).where(User.id.in_(pool_order), User.is_active.is_(True)).order_by(User.id).with_for_update())}
    rank = {member_id: n for n, member_id in enumerate(pool_order)}
    ledger = PoolLedger(post_id, list(members), shifts[0].starts_at - FAIRNESS_WINDOW)
    assigned = 0
    for shift in shifts:
        free = shift.seats - shift.filled
        candidates = [m for m in members.values()
                      if ledger.can_take(m.id, shift) and is_available(m, shift)]
        candidates.sort(key=lambda m: (*ledger.priority(m.id, shift), rank[m.id]))
        for member in candidates[:free]:
            if not take_seat(shift.id):
                break
            assignment = add_assignment(shift.id, member.id, "scheduler")
            if assignment is None:
                continue
            ledger.record(member.id, shift.id, post_id, shift.starts_at, shift.ends_at)
            assigned += 1
            when = to_local(shift.starts_at).strftime("%m-%d %H:%M")
            notifications.notify(member.id, "shift_assigned", "您有新的值守班次", f"{when} 开始，如不能到岗请及时请假",
                                 ref=f"shift:{shift.id}", key=f"assigned:{assignment.id}")
    db.session.commit()
    return assigned


def drop_future_unassigned_shifts(template):
    """After a template edit: its future shifts that nobody holds are removed, to be generated anew."""
    has_attendance = exists().where(Attendance.shift_id == Shift.id)
    ids = list(db.session.scalars(
        select(Shift.id).where(Shift.template_id == template.id, Shift.starts_at > utcnow(), Shift.filled == 0,
                               ~has_attendance).with_for_update()))
    if ids:
        # Declined or replaced assignments are the only ones such a shift can have.
        db.session.execute(delete(ShiftAssignment).where(ShiftAssignment.shift_id.in_(ids)))
        db.session.execute(delete(Shift).where(Shift.id.in_(ids)))
    return len(ids)


def mark_no_shows():
    """Assignees still ``assigned`` (or asking for a stand-in) with no attendance at a shift that ended more than
    ``NO_SHOW_GRACE_MINUTES`` ago become ``no_show``."""
    grace = current_app.config["NO_SHOW_GRACE_MINUTES"]
    cutoff = utcnow() - timedelta(minutes=grace)
    attended = exists().where(Attendance.shift_id == ShiftAssignment.shift_id,
                              Attendance.member_id == ShiftAssignment.member_id)
    result = db.session.execute(
        update(ShiftAssignment)
        .where(ShiftAssignment.status.in_(("assigned", "standin_requested")),
               ShiftAssignment.shift_id.in_(select(Shift.id).where(Shift.ends_at < cutoff)), ~attended)
        .values(status="no_show").execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount
