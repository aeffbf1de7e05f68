"""Wishes (微心愿): community staff post a resident's small wish; one member, unit or team claims and fulfils it.

open → claimed (a member, a unit admin for its unit, or a team's leader for the team) → fulfilled (the claimer, with a
note) → completed (community staff confirm; 20 points and a notification to whoever claimed: for a team, the leader
who claimed). A team's claim is the team's: any of its current leaders may release or fulfil it. The claimer may
release a claimed wish back to open; staff may cancel an open or claimed wish. Every other move is 409
``invalid_state``. Each transition is one conditional UPDATE, so of simultaneous requests exactly one applies.
"""

from sqlalchemy import String, cast, literal, null, or_, select, union_all, update

from clock import local_today, to_local, utcnow
from errors import Conflict, Forbidden, NotFound, ValidationFailed
from extensions import db
from models import Team, TeamMember, Unit, User, Wish
from models.team import TeamRole, TeamStatus
from models.wish import WishStatus
from services import moderation, notifications, points, subscriptions
from services.accounts import SHOWN_NAME
from services.authz import (
    access_in_community,
    access_unit,
    require_member,
    require_staff,
    row_field,
    staff_of_community,
)
from services.database import as_dict, update_if, where_given

CLAIMER_FIELDS = {"claimer_member_id": None, "claimer_unit_id": None, "claimer_team_id": None, "claimed_by": None,
                  "claimed_at": None, "overdue_notified_at": None}


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


def _led_teams(actor, team_ids):
    """Those of these teams the actor leads now."""
    if not team_ids:
        return set()
    return set(db.session.scalars(select(TeamMember.team_id).where(
        TeamMember.team_id.in_(team_ids), TeamMember.member_id == actor.id, TeamMember.role == TeamRole.LEADER)))


def _claimer_names(actor, wishes):
    """``{(kind, id): name}`` of the page's claimers (members, units, teams), with ``("led", team_id)`` for the
    claiming teams the actor leads: one query for the page whatever its claimers, none when nobody claimed."""
    member_ids = {w.claimer_member_id for w in wishes if w.claimer_member_id}
    unit_ids = {w.claimer_unit_id for w in wishes if w.claimer_unit_id}
    team_ids = {w.claimer_team_id for w in wishes if w.claimer_team_id}
    parts = []
    if member_ids:
        parts.append(select(literal("member"), User.id, SHOWN_NAME).where(User.id.in_(member_ids)))
    if unit_ids:
        parts.append(select(literal("unit"), Unit.id, Unit.name).where(Unit.id.in_(unit_ids)))
    if team_ids:
        parts.append(select(literal("team"), Team.id, Team.name).where(Team.id.in_(team_ids)))
        parts.append(select(literal("led"), TeamMember.team_id, cast(null(), String)).where(
            TeamMember.team_id.in_(team_ids), TeamMember.member_id == actor.id, TeamMember.role == TeamRole.LEADER))
    if not parts:
        return {}
    return {(kind, row_id): name for kind, row_id, name in db.session.execute(union_all(*parts))}


def _claimer_type(wish):
    if wish.claimer_team_id:
        return "team"
    return "unit" if wish.claimer_unit_id else "member"


# What ``present_rows`` needs of each wish beyond its row, as columns of the page's statement (built once): whether
# its text waits for moderation.
PAGE_COLUMNS = (moderation.review_column("wish", Wish.id),)


def present_rows(actor, rows):
    """A page of wishes read with their ``PAGE_COLUMNS``, as ``present`` shows them."""
    return present(actor, [wish for wish, _ in rows], held={wish.id for wish, held in rows if held})


def present(actor, wishes, held=None):
    """A page of wishes as the caller may see them: who claimed one is shown to staff and to the claimer, not to
    other members; a team's claim is shown to everyone (a team serves in the open). Claimer names and the teams the
    caller leads come from grouped queries, not one per wish, and only for claimers the page has: a page of open
    wishes sends none (an empty IN is still a round trip). ``held``: the wishes waiting for moderation, when the
    page's statement told (``PAGE_COLUMNS``)."""
    claimers = _claimer_names(actor, wishes)
    led = {team_id for (kind, team_id) in claimers if kind == "led"}
    covered = actor.covering({w.community_id for w in wishes})
    if held is None:
        held = moderation.under_review("wish", [w.id for w in wishes])
    shown = []
    for wish in wishes:
        kind = _claimer_type(wish)
        mine = wish.claimer_team_id in led if kind == "team" else is_claimer(actor, wish)
        sees_claimer = mine or wish.community_id in covered
        claimer_id = getattr(wish, f"claimer_{kind}_id")
        name = claimers.get((kind, claimer_id))
        claimer = None
        if wish.claimed_by and (sees_claimer or kind == "team"):
            claimer = {"type": kind, "id": claimer_id, "name": name}
        shown.append({
            **as_dict(wish),
            "claimed_by_me": mine,
            "claimer_type": kind if wish.claimed_by else None,
            "claimer": claimer,
            "claimer_member_id": wish.claimer_member_id if sees_claimer else None,
            "claimer_name": name if sees_claimer or kind == "team" else None,
            "fulfil_note": wish.fulfil_note if sees_claimer else None,
            "moderation": "review" if wish.id in held else None,
        })
    return shown


def present_one(actor, wish):
    return present(actor, [wish])[0]


def is_claimer(actor, wish):
    if wish.claimer_team_id is not None:
        return bool(_led_teams(actor, {wish.claimer_team_id}))
    if wish.claimer_unit_id is not None:
        return wish.claimer_unit_id in actor.unit_ids
    return wish.claimer_member_id is not None and wish.claimer_member_id == actor.id


def _claimer_condition(actor):
    """SQL: the actor is the claimer: the member, an admin of the unit, or a current leader of the team."""
    led = select(TeamMember.team_id).where(TeamMember.member_id == actor.id, TeamMember.role == TeamRole.LEADER)
    conditions = [Wish.claimer_member_id == actor.id, Wish.claimer_team_id.in_(led)]
    if actor.unit_ids:
        conditions.append(Wish.claimer_unit_id.in_(actor.unit_ids))
    return or_(*conditions)


def claim(actor, wish_id, *, unit_id=None, team_id=None):
    """A member claims for itself, a unit admin for its unit, or a team's leader for the team; of simultaneous
    claims exactly one wins."""
    if unit_id is not None and team_id is not None:
        raise ValidationFailed({"unit_id": ["不能同时指定单位和服务队"], "team_id": ["不能同时指定单位和服务队"]})
    if unit_id is not None:
        require_staff(actor)
        row_field(Unit, unit_id, "unit_id", "单位不存在")
    else:
        require_member(actor, "请使用小程序成员账号认领，或以单位管理员身份指定单位")
    team = row_field(Team, team_id, "team_id", "服务队不存在") if team_id is not None else None
    wish = access_wish(actor, wish_id, for_write=False)
    claimer = {"claimer_member_id": None, "claimer_unit_id": None, "claimer_team_id": None}
    if unit_id is not None:
        access_unit(actor, unit_id, for_write=True, allow_region_staff=False)
        claimer["claimer_unit_id"] = unit_id
    elif team is not None:
        if not _led_teams(actor, {team.id}):
            raise Forbidden("not_leader", "只有服务队队长可以为服务队认领")
        if team.status != TeamStatus.ACTIVE:
            raise Conflict("invalid_state", "服务队已解散")
        claimer["claimer_team_id"] = team.id
    else:
        claimer["claimer_member_id"] = actor.id
    if not update_if(wish, Wish.status == WishStatus.OPEN, status=WishStatus.CLAIMED, claimed_by=actor.id,
                     claimed_at=utcnow(), overdue_notified_at=None, **claimer):
        if wish.status == WishStatus.CLAIMED:
            raise Conflict("already_claimed", "该微心愿已被认领")
        raise _invalid_state()
    # The conditional update makes this claim unique, so the notification needs no dedup key.
    notifications.notify(actor.id, "wish_claimed", f"您已认领微心愿：{wish.title}", ref=f"wish:{wish.id}")
    subscriptions.push(actor.id, "wish_claimed", f"{wish.id}:{to_local(wish.claimed_at).isoformat()}",
                       {"id": wish.id, "title": wish.title, "claimed_at": to_local(wish.claimed_at).strftime(
                           "%Y-%m-%d %H:%M")}, page=f"pages/wishes/detail?id={wish.id}")
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
    """The claimer reports the wish fulfilled, with a note for the community; a member's note goes through content
    security (scene 2: risky → 422, review → held for staff)."""
    held = moderation.screen(moderation.member_author(actor), {"fulfil_note": note}, moderation.SCENE_COMMENT)
    wish = _claimer_transition(actor, wish_id, WishStatus.FULFILLED, fulfil_note=note, fulfilled_at=utcnow())
    if held:
        moderation.hold(wish.community_id, "wish", wish.id, {"fulfil_note": note}, actor.id)
    return wish


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
