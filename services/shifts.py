"""Shifts (班次): sign-up for a free seat, decline, stand-in request and accept, and the roster views.

Seats are counted in ``Shift.filled`` and taken only by a conditional ``UPDATE ... WHERE filled < seats``, so a
shift never has more assignees than seats, however many members sign up at once. A member's overlapping shifts are
checked with the member's row locked (``SELECT ... FOR UPDATE`` on users, always before any shift row), so two
simultaneous sign-ups of one member can never overlap.
"""

from datetime import timedelta

from sqlalchemy import select, update

from clock import local_today, to_local, utcnow, within_local_days
from errors import Conflict, Forbidden, NotFound, ValidationFailed
from extensions import db
from models import PoolMembership, Post, Shift, ShiftAssignment, ShiftSwap, User
from models.post import AssignmentStatus, SwapStatus
from services import moderation, notifications, subscriptions
from services.accounts import SHOWN_NAME
from services.authz import fetch, row_field
from services.database import add_unique, as_dict, update_if
from services.pii import mask_name
from services.posts import access_post


def access_shift(actor, shift_id):
    """A shift: anyone signed in sees it and may ask for a seat on it; its seats are changed by conditional
    updates, so it is read without a lock."""
    return fetch(Shift, shift_id, NotFound("shift_not_found", "班次不存在"))


def lock_member(member_id):
    """Serialise one member's sign-ups; every writer locks the member before any shift row."""
    db.session.execute(select(User.id).where(User.id == member_id).with_for_update())


def held_assignment(shift_id, member_id):
    return db.session.scalar(select(ShiftAssignment).where(
        ShiftAssignment.shift_id == shift_id, ShiftAssignment.member_id == member_id,
        ShiftAssignment.status.in_(AssignmentStatus.HELD)))


def has_overlap(member_id, starts_at, ends_at):
    """Whether the member holds another shift that overlaps [starts_at, ends_at)."""
    return db.session.scalar(
        select(ShiftAssignment.id).join(Shift, Shift.id == ShiftAssignment.shift_id)
        .where(ShiftAssignment.member_id == member_id, ShiftAssignment.status.in_(AssignmentStatus.HELD),
               Shift.starts_at < ends_at, Shift.ends_at > starts_at).limit(1)) is not None


def take_seat(shift_id):
    """Take one seat if one is free; False when the shift is full."""
    result = db.session.execute(
        update(Shift).where(Shift.id == shift_id, Shift.filled < Shift.seats)
        .values(filled=Shift.filled + 1).execution_options(synchronize_session=False))
    return result.rowcount == 1


def free_seat(shift_id):
    db.session.execute(
        update(Shift).where(Shift.id == shift_id, Shift.filled > 0)
        .values(filled=Shift.filled - 1).execution_options(synchronize_session=False))


def add_assignment(shift_id, member_id, source):
    """Insert an assignment; None when the member already holds the shift (the unique index decides)."""
    assignment = ShiftAssignment(shift_id=shift_id, member_id=member_id, status=AssignmentStatus.ASSIGNED,
                                 source=source, created_at=utcnow())
    return assignment if add_unique(assignment) else None


def _already_signed_up():
    return Conflict("already_signed_up", "您已在该班次中")


def _shift_started():
    return Conflict("shift_started", "班次已开始")


def _seat_member(member_id, shift, source, take=take_seat):
    """Put a member on a shift (a sign-up or a stand-in): with the member locked first, never twice on one shift and
    never at overlapping times; ``take`` claims the seat (a free one, or the seat of a stand-in request)."""
    lock_member(member_id)
    if held_assignment(shift.id, member_id) is not None:
        raise _already_signed_up()
    if has_overlap(member_id, shift.starts_at, shift.ends_at):
        raise Conflict("overlap", "与您已有的班次时间重叠")
    claimed = take(shift.id)
    if not claimed:
        return None
    assignment = add_assignment(shift.id, member_id, source)
    if assignment is None:
        raise _already_signed_up()
    return claimed


def sign_up(actor, shift_id):
    """Take a free seat: 409 ``shift_full`` when none is left, 409 ``overlap`` when it overlaps another shift."""
    shift = access_shift(actor, shift_id)
    if shift.ends_at <= utcnow():
        raise Conflict("shift_over", "班次已结束")
    if _seat_member(actor.id, shift, "self") is None:
        raise Conflict("shift_full", "该班次已满")
    return shift


def _open_assignment(shift, member_id):
    assignment = held_assignment(shift.id, member_id)
    if assignment is None:
        raise NotFound("signup_not_found", "您不在该班次中")
    if assignment.status in (AssignmentStatus.CHECKED_IN, AssignmentStatus.ATTENDED):
        # Checked in (up to 30 minutes early): the seat is being served and can no longer be handed back.
        raise Conflict("already_checked_in", "已签到，不能再请假或找人替班")
    if assignment.status not in AssignmentStatus.OPEN:
        raise Conflict("invalid_state", "当前状态不允许该操作")
    if shift.starts_at <= utcnow():
        raise _shift_started()
    return assignment


def decline(actor, shift_id):
    """Leave a shift before it starts (a scheduler assignment or one's own sign-up); the seat becomes free."""
    shift = access_shift(actor, shift_id)
    assignment = _open_assignment(shift, actor.id)
    if not update_if(assignment, ShiftAssignment.status.in_(AssignmentStatus.OPEN),
                     status=AssignmentStatus.DECLINED):
        raise Conflict("invalid_state", "当前状态不允许该操作")
    free_seat(shift.id)


def request_standin(actor, shift_id):
    """An assignee asks for a stand-in; the post's other pool members are told. Asking twice changes nothing."""
    shift = access_shift(actor, shift_id)
    ask_for_standin(shift, _open_assignment(shift, actor.id))
    return shift


def pool_off_shift(shift):
    """The post's pool members who hold no seat on the shift."""
    on_shift = select(ShiftAssignment.member_id).where(
        ShiftAssignment.shift_id == shift.id, ShiftAssignment.status.in_(AssignmentStatus.HELD))
    return list(db.session.scalars(select(PoolMembership.member_id).where(
        PoolMembership.post_id == shift.post_id, PoolMembership.member_id.not_in(on_shift))
        .order_by(PoolMembership.member_id)))


def ask_for_standin(shift, assignment):
    """Turn an ``assigned`` seat into a stand-in request (the holder keeps it until someone accepts) and tell the
    pool; False when it was not ``assigned`` (already asking, or moved on)."""
    if not update_if(assignment, ShiftAssignment.status == AssignmentStatus.ASSIGNED,
                     status=AssignmentStatus.STANDIN_REQUESTED):
        return False
    when = to_local(shift.starts_at).strftime("%m-%d %H:%M")
    post_name = db.session.scalar(select(Post.name).where(Post.id == shift.post_id))
    for member_id in pool_off_shift(shift):
        notifications.notify(member_id, "standin_request", "有班次需要替班", f"{when} 的班次需要替班",
                             ref=f"shift:{shift.id}", key=f"standin:{assignment.id}:{member_id}")
        subscriptions.push(member_id, "standin_needed", assignment.id,
                           {"id": shift.id, "post": post_name, "start": to_local(shift.starts_at).strftime(
                               "%Y-%m-%d %H:%M")}, page=f"pages/shifts/detail?id={shift.id}")
    return True


def release_unavailable_days(user):
    """After the member marked days unavailable: each seat they were given on a coming shift touching such a day (a
    weekday or a date, local) becomes a stand-in request to the pool, and the member is told; the shifts' ids."""
    weekdays, dates = set(user.unavailable_weekdays or ()), set(user.unavailable_dates or ())
    if not weekdays and not dates:
        return []
    rows = db.session.execute(
        select(ShiftAssignment, Shift).join(Shift, Shift.id == ShiftAssignment.shift_id)
        .where(ShiftAssignment.member_id == user.id, ShiftAssignment.status == AssignmentStatus.ASSIGNED,
               Shift.starts_at > utcnow())
        .order_by(Shift.starts_at, Shift.id)).all()
    released = []
    for assignment, shift in rows:
        touched = touched_dates(shift.starts_at, shift.ends_at)
        if weekdays.isdisjoint(d.isoweekday() for d in touched) and dates.isdisjoint(d.isoformat() for d in touched):
            continue
        if ask_for_standin(shift, assignment):
            released.append(shift.id)
            when = to_local(shift.starts_at).strftime("%m-%d %H:%M")
            notifications.notify(user.id, "standin_requested", "已为您找人替班",
                                 f"{when} 的班次在您标记的不可值守日，已请排班名单中的成员替班；有人接替前仍由您值守",
                                 ref=f"shift:{shift.id}", key=f"unavailable:{assignment.id}")
    return released


def touched_dates(starts_at, ends_at):
    """The local dates a shift touches (one passing midnight touches two)."""
    first = to_local(starts_at).date()
    last = to_local(ends_at - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _take_over_request(shift_id):
    """Flip the oldest open stand-in request of the shift to ``replaced``; the request, or None when there is none.
    Of simultaneous acceptances of one request exactly one flips it."""
    requests = db.session.scalars(select(ShiftAssignment).where(
        ShiftAssignment.shift_id == shift_id, ShiftAssignment.status == AssignmentStatus.STANDIN_REQUESTED)
        .order_by(ShiftAssignment.id))
    for request in requests:
        if update_if(request, ShiftAssignment.status == AssignmentStatus.STANDIN_REQUESTED,
                     status=AssignmentStatus.REPLACED):
            return request
    return None


def accept_standin(actor, shift_id):
    """The first pool member to accept takes over the seat of the oldest stand-in request."""
    shift = access_shift(actor, shift_id)
    if shift.starts_at <= utcnow():
        raise _shift_started()
    in_pool = db.session.scalar(select(PoolMembership.id).where(
        PoolMembership.post_id == shift.post_id, PoolMembership.member_id == actor.id))
    if in_pool is None:
        raise Forbidden("not_in_pool", "只有该岗位排班名单中的成员可以替班")
    request = _seat_member(actor.id, shift, "standin", take=_take_over_request)
    if request is None:
        raise Conflict("no_standin_request", "该班次没有待替班的请求")
    notifications.notify(request.member_id, "standin_accepted", "替班成功", "您的班次已有人替班",
                         ref=f"shift:{shift.id}", key=f"standin:{request.id}:accepted")
    return shift


def _starting_on_days(date_from=None, date_to=None, default_days=14):
    """Shifts starting on local days ``date_from`` .. ``date_to`` inclusive (default: today and the next 13 days)."""
    date_from = date_from or local_today()
    return within_local_days(Shift.starts_at, date_from, date_to or date_from + timedelta(days=default_days - 1))


def post_shifts(actor, post_id, *, date_from=None, date_to=None):
    """The post's roster: shifts starting on local days ``date_from`` .. ``date_to`` (anyone signed in)."""
    post = access_post(actor, post_id, for_write=False)
    return (select(Shift).where(Shift.post_id == post.id, *_starting_on_days(date_from, date_to))
            .order_by(Shift.starts_at, Shift.id))


def member_shifts(actor, *, date_from=None, date_to=None):
    """The caller's shifts starting on local days ``date_from`` .. ``date_to``."""
    return (select(Shift).join(ShiftAssignment, ShiftAssignment.shift_id == Shift.id)
            .where(ShiftAssignment.member_id == actor.id, ShiftAssignment.status.in_(AssignmentStatus.HELD),
                   *_starting_on_days(date_from, date_to))
            .order_by(Shift.starts_at, Shift.id))


def with_assignees(actor, shifts):
    """Shifts as roster rows with their assignees and statuses, and the caller's own status (``my_status``), in two
    queries for the page. Assignees' names are shown to the post's community staff and to those on the shift; anyone
    else sees them masked (王*): a roster is read by any signed-in user."""
    ids = [s.id for s in shifts]
    assignees = {}
    if ids:
        rows = db.session.execute(
            select(ShiftAssignment.shift_id, ShiftAssignment.member_id, ShiftAssignment.status, SHOWN_NAME)
            .join(User, User.id == ShiftAssignment.member_id)
            .where(ShiftAssignment.shift_id.in_(ids), ShiftAssignment.status.in_(AssignmentStatus.HELD))
            .order_by(ShiftAssignment.id))
        for shift_id, member_id, status, name in rows:
            assignees.setdefault(shift_id, []).append({"member_id": member_id, "name": name, "status": status})
    communities = dict(db.session.execute(select(Post.id, Post.community_id).where(
        Post.id.in_({s.post_id for s in shifts}))).all()) if shifts else {}
    covered = actor.covering(set(communities.values()))
    # A name waiting for staff (content security) is shown to no other member until it is approved.
    held = moderation.under_review("user", {a["member_id"] for rows in assignees.values() for a in rows})
    result = []
    for shift in shifts:
        on_shift = assignees.get(shift.id, [])
        my_status = next((a["status"] for a in on_shift if a["member_id"] == actor.id), None)
        if communities.get(shift.post_id) not in covered:
            on_shift = [{**a, "name": None} if a["member_id"] in held and a["member_id"] != actor.id else a
                        for a in on_shift]
        if my_status is None and communities.get(shift.post_id) not in covered:
            on_shift = [{**a, "name": mask_name(a["name"])} for a in on_shift]
        result.append({**as_dict(shift), "assignees": on_shift, "my_status": my_status})
    return result


# Direct swaps: a seat offered to one named member of the post's pool, who takes it over on accepting.

def _swap_not_found():
    return NotFound("swap_not_found", "换班请求不存在")


def _in_pool(post_id, member_id):
    return db.session.scalar(select(PoolMembership.id).where(
        PoolMembership.post_id == post_id, PoolMembership.member_id == member_id)) is not None


def offer_swap(actor, shift_id, *, member_id):
    """Offer one's seat on a coming shift to another member of the post's pool: a pending swap they are told of."""
    target = row_field(User, member_id, "member_id", "成员不存在")
    if target.id == actor.id:
        raise ValidationFailed({"member_id": ["不能与自己换班"]})
    shift = access_shift(actor, shift_id)
    _open_assignment(shift, actor.id)
    if not _in_pool(shift.post_id, target.id):
        raise Forbidden("not_in_pool", "对方不在该岗位的排班名单中")
    if held_assignment(shift.id, target.id) is not None:
        raise Conflict("already_signed_up", "对方已在该班次中")
    swap = ShiftSwap(shift_id=shift.id, from_member_id=actor.id, to_member_id=target.id, status=SwapStatus.PENDING,
                     created_at=utcnow())
    if not add_unique(swap):
        raise Conflict("swap_pending", "该班次已有待对方确认的换班请求")
    when = to_local(shift.starts_at).strftime("%m-%d %H:%M")
    notifications.notify(target.id, "shift_swap_offered", "有成员想与您换班", f"{when} 的班次，接受后由您值守",
                         ref=f"shift:{shift.id}", key=f"swap:{swap.id}:offered")
    return swap


def _swap_for(actor, swap_id, field):
    """A swap the caller is the offerer (``from_member_id``) or the one offered (``to_member_id``) of; others 404."""
    swap = fetch(ShiftSwap, swap_id, _swap_not_found())
    if getattr(swap, field) != actor.id:
        raise _swap_not_found()
    return swap


def accept_swap(actor, swap_id):
    """The member offered the seat takes it: in one transaction the offer is accepted, the offerer's seat becomes
    ``replaced`` and the caller's assignment is added, each by a conditional update or a unique index, so a seat
    that moved on meanwhile (declined, taken by a stand-in, the offer withdrawn) answers 409 and changes nothing."""
    swap = _swap_for(actor, swap_id, "to_member_id")
    shift = db.session.get(Shift, swap.shift_id)
    if swap.status != SwapStatus.PENDING:
        raise Conflict("invalid_state", "该换班请求已处理")
    if shift.starts_at <= utcnow():
        raise _shift_started()

    def take_over(_shift_id):
        if not update_if(swap, ShiftSwap.status == SwapStatus.PENDING, status=SwapStatus.ACCEPTED,
                         decided_at=utcnow()):
            raise Conflict("invalid_state", "该换班请求已处理")
        offered = held_assignment(shift.id, swap.from_member_id)
        if offered is None or not update_if(offered, ShiftAssignment.status.in_(AssignmentStatus.OPEN),
                                            status=AssignmentStatus.REPLACED):
            raise Conflict("invalid_state", "对方的班次状态已变化，无法换班")
        return offered

    _seat_member(actor.id, shift, "swap", take=take_over)
    when = to_local(shift.starts_at).strftime("%m-%d %H:%M")
    for member_id, title in ((swap.from_member_id, "换班成功：对方已接替您的班次"),
                             (actor.id, "换班成功：您已接替该班次")):
        notifications.notify(member_id, "shift_swap_accepted", title, f"{when} 的班次",
                             ref=f"shift:{shift.id}", key=f"swap:{swap.id}:accepted:{member_id}")
    return shift


def close_swap(actor, swap_id, *, by_offerer):
    """The member offered declines, or the offerer withdraws, a pending swap; the other is told."""
    swap = _swap_for(actor, swap_id, "from_member_id" if by_offerer else "to_member_id")
    to = SwapStatus.WITHDRAWN if by_offerer else SwapStatus.DECLINED
    if not update_if(swap, ShiftSwap.status == SwapStatus.PENDING, status=to, decided_at=utcnow()):
        raise Conflict("invalid_state", "该换班请求已处理")
    other = swap.to_member_id if by_offerer else swap.from_member_id
    notifications.notify(other, f"shift_swap_{to}", "换班请求已撤回" if by_offerer else "对方未接受换班",
                         ref=f"shift:{swap.shift_id}", key=f"swap:{swap.id}:{to}")
    return swap


def member_swaps(actor):
    """Swaps the caller offered or was offered, newest first."""
    return (select(ShiftSwap).where((ShiftSwap.from_member_id == actor.id) | (ShiftSwap.to_member_id == actor.id))
            .order_by(ShiftSwap.id.desc()))
