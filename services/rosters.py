"""Rosters (排班): shifts generated from weekly templates and filled fairly from the post's volunteer pool.

Generation keeps shifts for the next ``HORIZON_DAYS`` local days; a template whose end is at or before its start
ends the next day. A shift is unique on (template, start), so generating twice, or from two processes at once,
never duplicates one (``INSERT ... ON CONFLICT DO NOTHING``).

Filling takes members only from the post's pool (they volunteered), never one member at overlapping times, never on
a local date or weekday the member marked unavailable (every date the shift touches counts), and picks the member
with the fewest shifts at this post within four weeks either side of the shift, then the one who served (or is
due) least recently, then the earliest to join the pool.

Templates that skip holidays follow the official calendar (services/holidays.py), read once per generation run. When
it changes (a sysadmin enters a year), the next run corrects the coming shifts already generated: a shift on a day
that is now a day off goes unless someone holds a seat; then it stays, is not filled further, and each holder is told
once. A new make-up workday gets its shifts as any missing shift does.
"""

import logging
from bisect import insort
from collections import Counter
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, exists, select, update

from clock import local_day_start, local_today, local_zone, parse_clock, to_local, utcnow
from extensions import db
from models import Attendance, PoolMembership, Post, RoleAssignment, Shift, ShiftAssignment, ShiftTemplate, User
from models.post import AssignmentStatus
from services import notifications, rollups
from services.database import commit_batch, insert_rows_ignoring_conflicts
from services.holidays import Calendar

log = logging.getLogger("baodao.rosters")

HORIZON_DAYS = 14
FAIRNESS_WINDOW = timedelta(weeks=4)
NEVER = datetime.min.replace(tzinfo=UTC)
# Posts per transaction: small enough that locks are held briefly, large enough that statements are few.
POSTS_PER_BATCH = 100


def shift_bounds(day, start, end):
    """UTC start and end of a template's shift on a local date; an end at or before the start is the next day."""
    zone = local_zone()
    start, end = parse_clock(start), parse_clock(end)
    end_day = day if end > start else day + timedelta(days=1)
    return (datetime.combine(day, start, tzinfo=zone).astimezone(UTC),
            datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC))


def planned_shifts(template, today, now, calendar, days=HORIZON_DAYS, taken_days=frozenset()):
    """The shifts a template asks for from ``today`` on: not on a day it already has a shift (one kept through an
    edit because someone holds it), and not once started."""
    rows = []
    for offset in range(days):
        day = today + timedelta(days=offset)
        if day in taken_days or not calendar.template_runs_on(day, template.weekdays, template.skip_holidays):
            continue
        starts, ends = shift_bounds(day, template.start, template.end)
        if starts <= now:
            continue
        rows.append({"post_id": template.post_id, "template_id": template.id, "starts_at": starts,
                     "ends_at": ends, "seats": template.seats, "filled": 0, "created_at": now})
    return rows


def _active_templates(post_ids=None):
    """The active templates by post, as plain rows: they outlive the commits between batches without being
    reloaded one by one."""
    query = (select(ShiftTemplate.id, ShiftTemplate.post_id, ShiftTemplate.weekdays, ShiftTemplate.start,
                    ShiftTemplate.end, ShiftTemplate.seats, ShiftTemplate.skip_holidays)
             .where(ShiftTemplate.active.is_(True)).order_by(ShiftTemplate.id))
    if post_ids is not None:
        query = query.where(ShiftTemplate.post_id.in_(post_ids))
    by_post = {}
    for template in db.session.execute(query):
        by_post.setdefault(template.post_id, []).append(template)
    return by_post


def _calendar_for(by_post, today, days):
    """The official calendar of the years the horizon touches, read at once when a template skips holidays."""
    calendar = Calendar()
    if any(t.skip_holidays for templates in by_post.values() for t in templates):
        calendar.load(range(today.year, (today + timedelta(days=days)).year + 1))
    return calendar


def _generate(by_post, post_ids, days, now, calendar):
    """Correct, create and fill the shifts of these posts' templates; ``(created, filled, removed)``.

    Locks are taken in the order every writer takes them: the holders of shifts on a new day off are told first
    (a notification's insert waits for a member locked by a sign-up, which must not be waiting for a shift this run
    holds), then the fill locks posts, members and the shifts it fills, and the shifts that go are locked last."""
    templates = [t for post_id in post_ids for t in by_post.get(post_id, ())]
    today = local_today()
    closed = closed_shifts(templates, now, calendar)
    notify_holders_of_day_off(closed, now)
    created = create_shifts(templates, today, now, calendar, days)
    filled = fill_posts(post_ids, days, now, skip_shift_ids=closed)
    removed = drop_unheld_shifts(Shift.id.in_(closed)) if closed else 0
    return created, filled, removed


def _summary(created, filled, removed):
    return {"shifts_created": created, "seats_filled": filled, "shifts_removed": removed}


def generate_for_posts(post_ids, days=HORIZON_DAYS):
    """Keep the shifts of these posts for the next ``days`` local days and fill them, inside the caller's unit of
    work (a template created or edited by staff)."""
    by_post = _active_templates(post_ids)
    return _summary(*_generate(by_post, post_ids, days, utcnow(), _calendar_for(by_post, local_today(), days)))


def generate_rosters(post_ids=None, days=HORIZON_DAYS):
    """Keep every active template's shifts (of these posts, default all) for the next ``days`` local days, then fill
    free seats from the pools.

    Idempotent: an existing shift (same template and start) is left as it is, unless the official calendar has
    since made its day a day off (see the module docstring). Posts are handled in batches of ``POSTS_PER_BATCH``,
    each committed on its own (``commit_batch``), so no lock is held for longer than one batch; the calendar is read
    once for all of them.
    """
    now = utcnow()
    by_post = _active_templates(post_ids)
    calendar = _calendar_for(by_post, local_today(), days)
    posts = sorted(by_post)
    totals = [0, 0, 0]
    for first in range(0, len(posts), POSTS_PER_BATCH):
        batch = _generate(by_post, posts[first:first + POSTS_PER_BATCH], days, now, calendar)
        totals = [total + n for total, n in zip(totals, batch, strict=True)]
        commit_batch()
    if any(totals):
        log.info("rosters: %s shifts created, %s seats filled, %s shifts removed", *totals)
    return _summary(*totals)


def closed_shifts(templates, now, calendar):
    """The coming shifts (not yet started) of these ``skip_holidays`` templates on a day the official calendar has
    since made a day off: a new statutory holiday, or a make-up workday withdrawn. Their ids, in order."""
    weekdays = {t.id: t.weekdays for t in templates if t.skip_holidays}
    if not weekdays:
        return []
    coming = db.session.execute(select(Shift.id, Shift.template_id, Shift.starts_at).where(
        Shift.template_id.in_(list(weekdays)), Shift.starts_at > now).order_by(Shift.id))
    return [shift_id for shift_id, template_id, starts_at in coming
            if calendar.closes(to_local(starts_at).date(), weekdays[template_id])]


def notify_holders_of_day_off(shift_ids, now):
    """Each holder of a seat on these shifts (which stay, because someone holds them) is told once that the day is
    now a day off; their seat is theirs to keep or to decline."""
    if not shift_ids:
        return
    holders = db.session.execute(
        select(ShiftAssignment.id, ShiftAssignment.member_id, Shift.id, Shift.starts_at)
        .join(Shift, Shift.id == ShiftAssignment.shift_id)
        .where(Shift.id.in_(shift_ids), ShiftAssignment.status.in_(AssignmentStatus.HELD)))
    notices = []
    for assignment_id, member_id, shift_id, starts_at in holders:
        when = to_local(starts_at).strftime("%m-%d %H:%M")
        notices.append({"member_id": member_id, "kind": "shift_on_holiday", "title": "您的班次日期调整为休息日",
                        "body": f"{when} 的班次所在日期按国家节假日安排调整为休息日，班次仍保留；如不能到岗请及时请假",
                        "ref": f"shift:{shift_id}", "key": f"shift_on_holiday:{assignment_id}", "created_at": now})
    notifications.notify_many(notices)


def create_shifts(templates, today, now, calendar, days=HORIZON_DAYS):
    """Insert the templates' missing shifts in bulk (``ON CONFLICT DO NOTHING`` on template and start); how many
    were new. Rows are inserted before any row is locked, so a concurrent run waits here and then skips them."""
    if not templates:
        return 0
    taken = {}
    existing = db.session.execute(select(Shift.template_id, Shift.starts_at).where(
        Shift.template_id.in_([t.id for t in templates]), Shift.starts_at >= local_day_start(today)))
    for template_id, starts_at in existing:
        taken.setdefault(template_id, set()).add(to_local(starts_at).date())
    rows = [row for template in templates
            for row in planned_shifts(template, today, now, calendar, days, frozenset(taken.get(template.id, ())))]
    return len(insert_rows_ignoring_conflicts(Shift, rows, Shift.id))


def _touched_dates(starts_at, ends_at):
    first = to_local(starts_at).date()
    last = to_local(ends_at - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class Member:
    """A pool member as the fill sees them: when they are unavailable, their shifts (any post) and their turns
    (starts of their shifts, per post)."""

    __slots__ = ("id", "weekdays", "dates", "busy", "turns")

    def __init__(self, member_id, unavailable_weekdays, unavailable_dates):
        self.id = member_id
        self.weekdays = frozenset(unavailable_weekdays or ())
        self.dates = frozenset(unavailable_dates or ())
        self.busy = []    # [(starts, ends)]
        self.turns = {}   # post_id -> sorted starts

    def record(self, post_id, starts, ends):
        self.busy.append((starts, ends))
        insort(self.turns.setdefault(post_id, []), starts)

    def available(self, weekdays, dates):
        """Not marked unavailable on any weekday or date the shift touches."""
        return self.weekdays.isdisjoint(weekdays) and self.dates.isdisjoint(dates)

    def free_between(self, starts, ends):
        return not any(s < ends and e > starts for s, e in self.busy)

    def priority(self, post_id, starts):
        """Fewest turns at the post within four weeks either side, then the least recent (or next due) turn."""
        turns = self.turns.get(post_id, ())
        low, high = starts - FAIRNESS_WINDOW, starts + FAIRNESS_WINDOW
        return sum(1 for t in turns if low <= t < high), turns[-1] if turns else NEVER


def fill_posts(post_ids, days=HORIZON_DAYS, now=None, skip_shift_ids=()):
    """Fill the free seats of these posts' coming shifts from their pools, fairly (not those of ``skip_shift_ids``:
    shifts kept on a new day off); the caller commits.

    The seats are decided in memory and written in bulk, with every row the decision rests on locked first, in the
    order every writer uses: the posts (two fills of one post run one after the other), then the pool members' rows
    in id order (as a sign-up locks its member first), then the shifts. A sign-up of a pool member therefore waits
    for the fill, and a sign-up of anyone else for the shift, so no seat is overbooked and nobody overlaps.
    """
    now = now or utcnow()
    horizon_end = local_day_start(local_today() + timedelta(days=days + 1))
    db.session.execute(select(Post.id).where(Post.id.in_(post_ids)).order_by(Post.id).with_for_update())
    pools = {}
    for post_id, member_id in db.session.execute(
            select(PoolMembership.post_id, PoolMembership.member_id)
            .where(PoolMembership.post_id.in_(post_ids)).order_by(PoolMembership.id)):
        pools.setdefault(post_id, []).append(member_id)
    if not pools:
        return 0
    members = {row[0]: Member(*row) for row in db.session.execute(
        select(User.id, User.unavailable_weekdays, User.unavailable_dates)
        .where(User.id.in_({m for pool in pools.values() for m in pool}), User.is_active.is_(True))
        .order_by(User.id).with_for_update())}
    free = (select(Shift.id, Shift.post_id, Shift.starts_at, Shift.ends_at, Shift.seats - Shift.filled)
            .where(Shift.post_id.in_(list(pools)), Shift.starts_at > now, Shift.starts_at < horizon_end,
                   Shift.filled < Shift.seats))
    if skip_shift_ids:
        free = free.where(Shift.id.not_in(list(skip_shift_ids)))
    shifts = db.session.execute(free.order_by(Shift.post_id, Shift.starts_at, Shift.id).with_for_update()).all()
    if not members or not shifts:
        return 0
    for member_id, post_id, starts, ends in db.session.execute(
            select(ShiftAssignment.member_id, Shift.post_id, Shift.starts_at, Shift.ends_at)
            .join(Shift, Shift.id == ShiftAssignment.shift_id)
            .where(ShiftAssignment.member_id.in_(list(members)), ShiftAssignment.status.in_(AssignmentStatus.HELD),
                   Shift.ends_at > now - FAIRNESS_WINDOW)):
        members[member_id].record(post_id, starts, ends)
    pools = {post_id: [members[m] for m in pool if m in members] for post_id, pool in pools.items()}
    seats = []
    for shift_id, post_id, starts, ends, free in shifts:
        touched = _touched_dates(starts, ends)
        weekdays, dates = {d.isoweekday() for d in touched}, {d.isoformat() for d in touched}
        pool = pools[post_id]
        candidates = [(*m.priority(post_id, starts), rank, m) for rank, m in enumerate(pool)
                      if m.free_between(starts, ends) and m.available(weekdays, dates)]
        candidates.sort(key=lambda c: c[:3])
        for *_, member in candidates[:free]:
            member.record(post_id, starts, ends)
            seats.append((shift_id, member.id, starts))
    return write_seats(seats, now)


def write_seats(seats, now):
    """Insert the assignments, count them into ``filled`` and notify the assignees, a few statements in all."""
    starts_of = {shift_id: starts for shift_id, _, starts in seats}
    rows = [{"shift_id": shift_id, "member_id": member_id, "status": AssignmentStatus.ASSIGNED, "source": "scheduler",
             "created_at": now} for shift_id, member_id, _ in seats]
    inserted = insert_rows_ignoring_conflicts(ShiftAssignment, rows, ShiftAssignment.id, ShiftAssignment.shift_id,
                           ShiftAssignment.member_id)
    by_count = {}
    for shift_id, count in Counter(shift_id for _, shift_id, _ in inserted).items():
        by_count.setdefault(count, []).append(shift_id)
    for count, shift_ids in by_count.items():
        result = db.session.execute(
            update(Shift).where(Shift.id.in_(shift_ids), Shift.filled + count <= Shift.seats)
            .values(filled=Shift.filled + count).execution_options(synchronize_session=False))
        if result.rowcount != len(shift_ids):
            # Cannot happen while the shifts are locked; never commit an overbooked seat if it does (the unit of
            # work rolls back on this error).
            raise RuntimeError("roster fill found a shift fuller than it was when locked")
    notices = []
    for assignment_id, shift_id, member_id in inserted:
        when = to_local(starts_of[shift_id]).strftime("%m-%d %H:%M")
        notices.append({"member_id": member_id, "kind": "shift_assigned", "title": "您有新的值守班次",
                        "body": f"{when} 开始，如不能到岗请及时请假", "ref": f"shift:{shift_id}",
                        "key": f"assigned:{assignment_id}", "created_at": now})
    notifications.notify_many(notices)
    return len(inserted)


def drop_future_unassigned_shifts(template):
    """After a template edit: its future shifts that nobody holds are removed, to be generated anew."""
    return drop_unheld_shifts(Shift.template_id == template.id)


def drop_unheld_shifts(*conditions):
    """Remove the shifts meeting ``conditions`` that have not started and that nobody holds (no seat filled, no
    attendance), decided with them locked; how many went."""
    has_attendance = exists().where(Attendance.shift_id == Shift.id)
    ids = list(db.session.scalars(
        select(Shift.id).where(*conditions, Shift.starts_at > utcnow(), Shift.filled == 0, ~has_attendance)
        .order_by(Shift.id).with_for_update()))
    if ids:
        # Declined or replaced assignments are the only ones such a shift can have.
        db.session.execute(delete(ShiftAssignment).where(ShiftAssignment.shift_id.in_(ids)))
        db.session.execute(delete(Shift).where(Shift.id.in_(ids)))
    return len(ids)


def mark_no_shows():
    """Assignees still ``assigned`` (or asking for a stand-in) at a shift that ended more than
    ``NO_SHOW_GRACE_MINUTES`` ago become ``no_show``: whoever scanned in is ``checked_in`` or ``attended``."""
    cutoff = utcnow() - timedelta(minutes=current_app.config["NO_SHOW_GRACE_MINUTES"])
    # A closed account (DELETE /me) whose stand-in request nobody took left the shift; it did not miss it.
    db.session.execute(
        update(ShiftAssignment)
        .where(ShiftAssignment.status.in_(AssignmentStatus.OPEN),
               ShiftAssignment.shift_id.in_(select(Shift.id).where(Shift.ends_at < cutoff)),
               ShiftAssignment.member_id.in_(select(User.id).where(User.closed_at.is_not(None))))
        .values(status=AssignmentStatus.DECLINED).execution_options(synchronize_session=False))
    shift_ids = list(db.session.scalars(
        update(ShiftAssignment)
        .where(ShiftAssignment.status.in_(AssignmentStatus.OPEN),
               ShiftAssignment.shift_id.in_(select(Shift.id).where(Shift.ends_at < cutoff)))
        .values(status=AssignmentStatus.NO_SHOW).returning(ShiftAssignment.shift_id)
        .execution_options(synchronize_session=False)))
    rollups.assignments_settled([(shift_id, AssignmentStatus.NO_SHOW) for shift_id in shift_ids])
    return len(shift_ids)


# Template edits and short shifts.

ALERT_BEFORE = timedelta(hours=48)


def move_coming_shifts(template, now=None):
    """After a template's time changed: its coming shifts someone holds (not started, nobody scanned in) move to the
    new start and end on their own local day, and take the new seats when these still cover the holders. Each holder
    is told; one the new time would put on two shifts at once, or on a day they marked unavailable, gives the seat
    up (``declined``, told so) and the fill that follows the edit offers it to the pool. The moved shifts' ids.

    The holders are locked before the shifts, the order of every writer of seats; shifts nobody holds are not
    moved here: the edit drops and regenerates them."""
    now = now or utcnow()
    has_attendance = exists().where(Attendance.shift_id == Shift.id)
    coming = list(db.session.scalars(select(Shift.id).where(
        Shift.template_id == template.id, Shift.starts_at > now, Shift.filled > 0, ~has_attendance)))
    holders = sorted(set(db.session.scalars(select(ShiftAssignment.member_id).where(
        ShiftAssignment.shift_id.in_(coming), ShiftAssignment.status.in_(AssignmentStatus.HELD)))))
    if not holders:
        return []
    members = {row.id: row for row in db.session.execute(
        select(User.id, User.unavailable_weekdays, User.unavailable_dates).where(User.id.in_(holders))
        .order_by(User.id).with_for_update())}
    shifts = list(db.session.scalars(select(Shift).where(Shift.id.in_(coming)).order_by(Shift.id)
                                     .with_for_update().execution_options(populate_existing=True)))
    moved = []
    for shift in shifts:
        starts, ends = shift_bounds(to_local(shift.starts_at).date(), template.start, template.end)
        if (starts, ends) == (shift.starts_at, shift.ends_at) or starts <= now:
            continue
        shift.starts_at, shift.ends_at = starts, ends
        shift.seats = max(template.seats, shift.filled)
        db.session.flush()
        moved.append(shift.id)
        _settle_holders(shift, members, now)
    return moved


def _settle_holders(shift, members, now):
    """Tell the holders of a moved shift; those it now puts at overlapping times or on an unavailable day decline."""
    touched = _touched_dates(shift.starts_at, shift.ends_at)
    weekdays, dates = {d.isoweekday() for d in touched}, {d.isoformat() for d in touched}
    when = f"{to_local(shift.starts_at):%m-%d %H:%M}–{to_local(shift.ends_at):%H:%M}"
    for assignment in db.session.scalars(select(ShiftAssignment).where(
            ShiftAssignment.shift_id == shift.id, ShiftAssignment.status.in_(AssignmentStatus.OPEN))
            .order_by(ShiftAssignment.id)):
        member = members[assignment.member_id]
        clash = db.session.scalar(
            select(ShiftAssignment.id).join(Shift, Shift.id == ShiftAssignment.shift_id)
            .where(ShiftAssignment.member_id == member.id, ShiftAssignment.status.in_(AssignmentStatus.HELD),
                   Shift.id != shift.id, Shift.starts_at < shift.ends_at, Shift.ends_at > shift.starts_at).limit(1))
        unavailable = not Member(*member).available(weekdays, dates)
        key = f"shift_moved:{shift.id}:{member.id}:{now:%Y%m%d%H%M%S%f}"  # one per edit, even back and forth
        if clash is None and not unavailable:
            notifications.notify(member.id, "shift_moved", "您的班次时间已调整", f"调整为 {when}，如不能到岗请及时请假",
                                 ref=f"shift:{shift.id}", key=key)
            continue
        assignment.status = AssignmentStatus.DECLINED
        shift.filled -= 1
        db.session.flush()
        reason = "与您的其他班次时间重叠" if clash is not None else "在您标记的不可值守日"
        notifications.notify(member.id, "shift_moved", "您的班次时间已调整，已为您取消",
                             f"调整为 {when}，{reason}，已为您取消该班次", ref=f"shift:{shift.id}", key=key)


def alert_unfilled_shifts(now=None):
    """Shifts starting within ``ALERT_BEFORE`` that still have free seats: the post's community's own staff and the
    post's pool members not on the shift are told, once per shift. ``alerted_at`` is set by a conditional update
    (``WHERE alerted_at IS NULL``), so two schedulers running at once alert each shift once; the recipients' rows
    are share-locked before the shifts, the order of a sign-up (member, then shift), so neither waits in a circle."""
    now = now or utcnow()
    short = (Shift.alerted_at.is_(None), Shift.filled < Shift.seats, Shift.starts_at > now,
             Shift.starts_at <= now + ALERT_BEFORE)
    candidates = db.session.execute(
        select(Shift.id, Shift.post_id, Post.community_id).join(Post, Post.id == Shift.post_id).where(*short)).all()
    if not candidates:
        return 0
    communities = {community_id for _id, _post, community_id in candidates}
    staff = {}
    for user_id, community_id in db.session.execute(
            select(RoleAssignment.user_id, RoleAssignment.scope_id).where(
                RoleAssignment.role == "community_admin", RoleAssignment.scope_id.in_(communities))):
        staff.setdefault(community_id, set()).add(user_id)
    pools = {}
    for post_id, member_id in db.session.execute(select(PoolMembership.post_id, PoolMembership.member_id).where(
            PoolMembership.post_id.in_({post_id for _id, post_id, _c in candidates}))):
        pools.setdefault(post_id, set()).add(member_id)
    recipients = set().union(*staff.values(), *pools.values())
    db.session.execute(select(User.id).where(User.id.in_(recipients)).order_by(User.id)
                       .with_for_update(read=True, key_share=True))
    alerted = db.session.execute(
        update(Shift).where(Shift.id.in_([shift_id for shift_id, _p, _c in candidates]), *short)
        .values(alerted_at=now).returning(Shift.id, Shift.post_id, Shift.starts_at, Shift.seats, Shift.filled)
        .execution_options(synchronize_session=False)).all()
    community_of = {shift_id: community_id for shift_id, _p, community_id in candidates}
    on_shift = {}
    for shift_id, member_id in db.session.execute(select(ShiftAssignment.shift_id, ShiftAssignment.member_id).where(
            ShiftAssignment.shift_id.in_([row.id for row in alerted]),
            ShiftAssignment.status.in_(AssignmentStatus.HELD))):
        on_shift.setdefault(shift_id, set()).add(member_id)
    notices = []
    for shift_id, post_id, starts_at, seats, filled in alerted:
        when = to_local(starts_at).strftime("%m-%d %H:%M")
        body = f"{when} 开始的班次还缺 {seats - filled} 人"
        to_staff = staff.get(community_of[shift_id], set())
        to_pool = pools.get(post_id, set()) - on_shift.get(shift_id, set()) - to_staff
        for title, members in (("班次缺人，请协调", to_staff), ("有班次缺人，欢迎报名", to_pool)):
            notices += [{"member_id": member_id, "kind": "shift_unfilled", "title": title, "body": body,
                         "ref": f"shift:{shift_id}", "key": f"unfilled:{shift_id}:{member_id}", "created_at": now}
                        for member_id in sorted(members)]
    notifications.notify_many(notices)
    if alerted:
        log.info("rosters: %s shifts short of seats alerted", len(alerted))
    return len(alerted)
