"""Wishes (微心愿): community staff post a resident's small wish; one member or one unit claims and fulfils it.

open → claimed (a member, or a unit admin for its unit) → fulfilled (the claimer, with a note) → completed (community
staff confirm; 20 points and a notification to whoever claimed). The claimer may release a claimed wish back to open;
staff may cancel an open or claimed wish. Every other move is 409 ``invalid_state``. Each transition is one
conditional UPDATE, so of simultaneous requests exactly one applies.
"""

from sqlalchemy import or_, select, update

from clock import local_today, utcnow
from errors import Conflict, Forbidden, NotFound, ValidationFailed
from extensions import db
from models import Unit, User, Wish
from models.wish import WishStatus
from services import notifications, points
from services.authz import (
    access_in_community,
    access_unit,
    require_member,
    require_staff,
    row_field,
    staff_of_community,
)
from services.database import as_dict, update_if, where_given

CLAIMER_FIELDS = {"claimer_member_id": None, "claimer_unit_id": None, "claimed_by": None, "claimed_at": None,
                  "overdue_notified_at": None}


def _invalid_state():
    return Conflict("invalid_state", "当前状态不允许该操作")


def _not_found():
    return NotFound("wish_not_found", "微心愿不存在或不在管辖范围内")


def access_wish(actor, wish_id, *, for_write):
    """A wish: anyone signed in sees it; to confirm or cancel it, the community's staff get it locked."""
    return access_in_community(actor, Wish, wish_id, _not_found(), for_write=for_write)


def post_wish(actor, *, community_id, title, description=None, beneficiary=None, deadline=None):
    """Community staff (of that community or above) post a wish; the deadline may not lie in the past."""
    staff_of_community(actor, community_id)
    if deadline is not None and deadline < local_today():
        raise ValidationFailed({"deadline": ["截止日期不能早于今天"]})
    wish = Wish(community_id=community_id, title=title, description=description, beneficiary=beneficiary,
                deadline=deadline, status=WishStatus.OPEN, created_by=actor.id)
    db.session.add(wish)
    db.session.flush()
    return wish


def list_wishes(*, community_id=None, status=None):
    """Any signed-in user sees the wishes (only what staff wrote about the beneficiary)."""
    return where_given(select(Wish).order_by(Wish.id.desc()), (Wish.community_id, community_id), (Wish.status, status))


def present(actor, wishes):
    """A page of wishes as the caller may see them: who claimed one is shown to staff and to the claimer, not to
    other members. Claimer names come from two grouped queries, not one per wish, and only for claimers the page
    has: a page of open wishes sends neither (an empty IN is still a round trip)."""
    member_ids = {w.claimer_member_id for w in wishes if w.claimer_member_id}
    unit_ids = {w.claimer_unit_id for w in wishes if w.claimer_unit_id}
    members = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(member_ids))).all()
                   if member_ids else {})
    units = dict(db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids))).all()
                 if unit_ids else {})
    covered = actor.covering({w.community_id for w in wishes})
    shown = []
    for wish in wishes:
        mine = is_claimer(actor, wish)
        sees_claimer = mine or wish.community_id in covered
        name = units.get(wish.claimer_unit_id) if wish.claimer_unit_id else members.get(wish.claimer_member_id)
        shown.append({
            **as_dict(wish),
            "claimed_by_me": mine,
            "claimer_type": ("unit" if wish.claimer_unit_id else "member") if wish.claimed_by else None,
            "claimer_member_id": wish.claimer_member_id if sees_claimer else None,
            "claimer_name": name if sees_claimer else None,
            "fulfil_note": wish.fulfil_note if sees_claimer else None,
        })
    return shown


def present_one(actor, wish):
    return present(actor, [wish])[0]


def is_claimer(actor, wish):
    if wish.claimer_unit_id is not None:
        return wish.claimer_unit_id in actor.unit_ids
    return wish.claimer_member_id is not None and wish.claimer_member_id == actor.id


def _claimer_condition(actor):
    conditions = [Wish.claimer_member_id == actor.id]
    if actor.unit_ids:
        conditions.append(Wish.claimer_unit_id.in_(actor.unit_ids))
    return or_(*conditions)


def claim(actor, wish_id, *, unit_id=None):
    """A member claims for itself, or a unit admin for its unit; of simultaneous claims exactly one wins."""
    if unit_id is not None:
        require_staff(actor)
        row_field(Unit, unit_id, "unit_id", "单位不存在")
    else:
        require_member(actor, "请使用小程序成员账号认领，或以单位管理员身份指定单位")
    wish = access_wish(actor, wish_id, for_write=False)
    if unit_id is not None:
        access_unit(actor, unit_id, for_write=True, allow_region_staff=False)
        claimer = {"claimer_member_id": None, "claimer_unit_id": unit_id}
    else:
        claimer = {"claimer_member_id": actor.id, "claimer_unit_id": None}
    if not update_if(wish, Wish.status == WishStatus.OPEN, status=WishStatus.CLAIMED, claimed_by=actor.id,
                     claimed_at=utcnow(), overdue_notified_at=None, **claimer):
        if wish.status == WishStatus.CLAIMED:
            raise Conflict("already_claimed", "该微心愿已被认领")
        raise _invalid_state()
    # The conditional update makes this claim unique, so the notification needs no dedup key.
    notifications.notify(actor.id, "wish_claimed", f"您已认领微心愿：{wish.title}", ref=f"wish:{wish.id}")
    return wish


def _claimer_transition(actor, wish_id, to, **values):
    """A move only the claimer makes: claimed → ``to``; another caller gets 403, a wish not claimed 409."""
    wish = access_wish(actor, wish_id, for_write=False)
    if not update_if(wish, Wish.status == WishStatus.CLAIMED, _claimer_condition(actor), status=to, **values):
        if wish.status == WishStatus.CLAIMED:
            raise Forbidden("not_claimer", "只有认领人可以操作")
        raise _invalid_state()
    return wish


def release(actor, wish_id):
    """The claimer gives a claimed wish back: it is open again for anyone."""
    return _claimer_transition(actor, wish_id, WishStatus.OPEN, **CLAIMER_FIELDS)


def fulfil(actor, wish_id, *, note=None):
    """The claimer reports the wish fulfilled, with a note for the community."""
    return _claimer_transition(actor, wish_id, WishStatus.FULFILLED, fulfil_note=note, fulfilled_at=utcnow())


def _staff_transition(actor, wish_id, allowed_from, to, **values):
    wish = access_wish(actor, wish_id, for_write=True)
    if not update_if(wish, Wish.status.in_(allowed_from), status=to, **values):
        raise _invalid_state()
    return wish


def confirm(actor, wish_id):
    """Community staff confirm a fulfilled wish: 20 points to whoever claimed it (for a unit claim, the unit
    admin who claimed), credited under ``wish:{id}:completed`` so that it is never credited twice."""
    wish = _staff_transition(actor, wish_id, (WishStatus.FULFILLED,), WishStatus.COMPLETED, completed_at=utcnow())
    points.credit(wish.claimed_by, points.POINTS_PER_COMPLETED_WISH, "wish_completed", f"wish:{wish.id}:completed")
    notifications.notify(wish.claimed_by, "wish_completed", f"微心愿已完成：{wish.title}",
                         f"社区已确认，获得 {points.POINTS_PER_COMPLETED_WISH} 积分", ref=f"wish:{wish.id}",
                         key=f"wish:{wish.id}:completed")
    return wish


def cancel(actor, wish_id):
    """Community staff withdraw an open or claimed wish; a claimer is told."""
    wish = _staff_transition(actor, wish_id, WishStatus.CANCELLABLE, WishStatus.CANCELLED, cancelled_at=utcnow())
    if wish.claimed_by is not None:
        notifications.notify(wish.claimed_by, "wish_cancelled", f"微心愿已取消：{wish.title}", ref=f"wish:{wish.id}",
                             key=f"wish:{wish.id}:cancelled")
    return wish


def remind_overdue(today=None):
    """Tell the claimer (and the staff member who posted it) once when a claimed wish passes its local deadline."""
    today = today or local_today()
    overdue = list(db.session.scalars(select(Wish).where(
        Wish.status == WishStatus.CLAIMED, Wish.deadline < today, Wish.overdue_notified_at.is_(None))
        .order_by(Wish.id)))
    reminded = 0
    for wish in overdue:
        # Conditional, so two scheduler instances (or a claim released meanwhile) never remind twice.
        result = db.session.execute(update(Wish).where(
            Wish.id == wish.id, Wish.status == WishStatus.CLAIMED, Wish.claimed_by == wish.claimed_by,
            Wish.overdue_notified_at.is_(None)).values(overdue_notified_at=utcnow()))
        if result.rowcount != 1:
            continue
        claim_key = _claim_key(wish)
        notifications.notify(wish.claimed_by, "wish_overdue", f"认领的微心愿已过截止日期：{wish.title}",
                             f"截止日期 {wish.deadline.isoformat()}，请尽快完成或释放", ref=f"wish:{wish.id}",
                             key=f"wish:{wish.id}:overdue:{claim_key}")
        if wish.created_by is not None and wish.created_by != wish.claimed_by:
            notifications.notify(wish.created_by, "wish_overdue", f"微心愿认领后逾期未完成：{wish.title}",
                                 f"截止日期 {wish.deadline.isoformat()}", ref=f"wish:{wish.id}",
                                 key=f"wish:{wish.id}:overdue-staff:{claim_key}")
        reminded += 1
    return reminded


def _claim_key(wish):
    """One claim: a wish released and claimed again is a new claim that may be reminded again."""
    return f"{wish.claimed_by}:{int(wish.claimed_at.timestamp())}"
