"""Activities (活动) and their sign-ups.

Staff of the activity's community (or a region above it) create, edit or cancel one; a unit's admins do so for the
activities their unit organises (``unit_id``), only in a community where the unit has an approved unit report, and
they also show its QR code and list its sign-ups and attendances. Approving hours stays with community staff.

Whether a member may sign up is decided by one function, ``check_can_sign_up``: the eligibility criteria (all of
them: a political status among those listed, an active member of the team, a member of the unit), the activity's
state and the sign-up window. The sign-up, the check-in of an activity without sign-up (eligibility only) and each
activity's ``can_sign_up``/``cannot_reason`` ask it, and so does any sign-up that composes ``sign_up``.

Confirmed sign-ups never exceed the capacity: a seat is taken by a conditional
``UPDATE ... WHERE confirmed_count < capacity`` on the activity row, which the database serialises; whoever misses it
is waitlisted. Cancelling a confirmed sign-up frees the seat and confirms the longest-waiting waitlisted member in the
same transaction. Every change of seats locks the activity row first (a sign-up too, so a team's sign-up of many
members and single ones take turns), so promotions never interleave.
"""

from sqlalchemy import bindparam, case, func, select, update

from clock import to_local, utcnow, within_local_days
from errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from extensions import db
from models import Activity, Region, Report, Signup, Team, TeamMember, Unit
from models.activity import ActivityStatus, SignupStatus
from models.report import ReportStatus
from models.team import MembershipStatus
from services import notifications, subscriptions
from services.authz import community_field, fetch, require_region_staff, require_staff, row_field, within_scope
from services.database import among, as_dict, insert_ignoring_conflicts, update_if, where_given

LOCATION_FIELDS = ("address", "lat", "lng", "radius_m")
EDITABLE = ("title", "description", "category", "starts_at", "ends_at", "capacity", "requires_signup",
            "signup_opens_at", "signup_closes_at")


def _not_found():
    return NotFound("activity_not_found", "活动不存在或不在管辖范围内")


def access_activity(actor, activity_id, *, for_write, as_staff=None, community_staff=False):
    """An activity: anyone signed in sees it. ``as_staff`` (implied by ``for_write``): only its community's staff (or
    above) or, for a unit's activity, that unit's admins get it (others 403 not staff, or 404 as for a missing
    one), locked when writing. ``community_staff``: the unit's admins are left out (hours are the community's)."""
    as_staff = for_write if as_staff is None else as_staff
    if not as_staff:
        return fetch(Activity, activity_id, _not_found())
    (require_region_staff if community_staff else require_staff)(actor)
    activity = fetch(Activity, activity_id, _not_found(), lock=for_write)
    organiser = not community_staff and activity.unit_id is not None and activity.unit_id in actor.unit_ids
    if not (organiser or actor.covers_community_id(activity.community_id)):
        raise _not_found()
    return activity


def _member_in_team(team_id, member_id):
    """Whether the member is an active member of the team."""
    return bool(_active_teams_of(member_id, {team_id}))


def _active_teams_of(member_id, team_ids):
    """The teams among ``team_ids`` the member is an active member of (one query)."""
    return set(db.session.scalars(select(TeamMember.team_id).where(
        TeamMember.member_id == member_id, TeamMember.team_id.in_(team_ids),
        TeamMember.status == MembershipStatus.ACTIVE)))


def _signup_closed(activity):
    return Conflict("signup_closed", "不在报名时间内", details={
        "opens_at": activity.signup_opens_at and to_local(activity.signup_opens_at).isoformat(),
        "closes_at": activity.signup_closes_at and to_local(activity.signup_closes_at).isoformat()})


def check_eligible(activity, member, *, in_team=_member_in_team):
    """403 ``not_eligible`` unless the member (a ``User``, or an ``Actor``, whose user is then read only for a
    criterion on political status or unit) meets every criterion of the activity. ``in_team`` answers team
    membership (a page of activities passes a memo of it)."""
    criteria_met = (
        (activity.eligible_political_statuses is None
         or member.political_status in activity.eligible_political_statuses)
        and (activity.eligible_unit_id is None or member.unit_id == activity.eligible_unit_id)
        and (activity.eligible_team_id is None or in_team(activity.eligible_team_id, member.id)))
    if not criteria_met:
        raise Forbidden("not_eligible", "不符合该活动的报名条件")


def is_eligible(activity, member):
    """Whether ``check_eligible`` lets the member through."""
    try:
        check_eligible(activity, member)
    except Forbidden:
        return False
    return True


def check_open(activity, *, now=None):
    """409 unless the activity takes sign-ups now: ``invalid_state`` (cancelled), ``activity_ended``,
    ``signup_closed`` (before ``signup_opens_at`` or from ``signup_closes_at``)."""
    now = now or utcnow()
    if activity.status != ActivityStatus.PUBLISHED:
        raise Conflict("invalid_state", "活动已取消")
    if activity.ends_at <= now:
        raise Conflict("activity_ended", "活动已结束")
    if (activity.signup_opens_at is not None and now < activity.signup_opens_at) or (
            activity.signup_closes_at is not None and now >= activity.signup_closes_at):
        raise _signup_closed(activity)


def check_can_sign_up(activity, member, *, now=None, in_team=_member_in_team):
    """The one rule on who may sign up for an activity and when, raising what the sign-up answers: first
    ``check_eligible`` (403; all that the check-in of an activity without sign-up asks), then ``check_open``
    (409)."""
    check_eligible(activity, member, in_team=in_team)
    check_open(activity, now=now)


def cannot_sign_up_reason(activity, member, **options):
    """The code ``check_can_sign_up`` would answer, or None."""
    try:
        check_can_sign_up(activity, member, **options)
    except DomainError as refusal:
        return refusal.code
    return None


def _lock_seats(activity_id):
    """The activity row, locked: every change of its seats takes this lock first."""
    return fetch(Activity, activity_id, _not_found(), lock=True)


def _check_times(current, changes):
    """The activity's times after ``changes``: start < end, and ``signup_opens_at`` < ``signup_closes_at`` <=
    ``ends_at`` (an opening alone before the end), each 422 naming the field."""
    def value(field):
        return changes[field] if field in changes else getattr(current, field, None)

    starts_at, ends_at = value("starts_at"), value("ends_at")
    opens_at, closes_at = value("signup_opens_at"), value("signup_closes_at")
    if ends_at <= starts_at:
        raise ValidationFailed({"ends_at": ["结束时间必须晚于开始时间"]})
    if closes_at is not None and closes_at > ends_at:
        raise ValidationFailed({"signup_closes_at": ["报名截止时间不能晚于活动结束时间"]})
    if opens_at is not None and closes_at is not None and opens_at >= closes_at:
        raise ValidationFailed({"signup_closes_at": ["报名截止时间必须晚于报名开始时间"]})
    if opens_at is not None and opens_at >= ends_at:
        raise ValidationFailed({"signup_opens_at": ["报名开始时间必须早于活动结束时间"]})


def _check_eligibility(eligibility):
    """422 when the criteria's unit or team names none."""
    if eligibility and eligibility.get("unit_id") is not None:
        row_field(Unit, eligibility["unit_id"], "eligibility.unit_id", "单位不存在")
    if eligibility and eligibility.get("team_id") is not None:
        row_field(Team, eligibility["team_id"], "eligibility.team_id", "服务队不存在")


def _apply(activity, changes):
    for field in EDITABLE:
        if field in changes:
            setattr(activity, field, changes[field])
    for field in LOCATION_FIELDS:
        if field in (changes.get("location") or {}):
            setattr(activity, field, changes["location"][field])
    if "eligibility" in changes:
        criteria = changes["eligibility"] or {}
        statuses = criteria.get("political_status")
        activity.eligible_political_statuses = sorted(set(statuses)) if statuses else None
        activity.eligible_team_id = criteria.get("team_id")
        activity.eligible_unit_id = criteria.get("unit_id")


def _unit_reported(unit_id, community_id):
    return db.session.scalar(select(Report.id).where(
        Report.kind == "unit", Report.unit_id == unit_id, Report.community_id == community_id,
        Report.status == ReportStatus.APPROVED).limit(1)) is not None


def create_activity(actor, *, community_id, unit_id=None, **fields):
    """Staff of the community (or above) publish an activity; a unit's admins (or community staff) publish one the
    unit organises, only in a community where the unit has an approved unit report (403 ``unit_not_reported``)."""
    require_staff(actor)
    community = community_field(community_id)
    if unit_id is None and not actor.is_region_staff:
        raise ValidationFailed({"unit_id": ["单位管理员须注明组织单位"]})
    unit = row_field(Unit, unit_id, "unit_id", "单位不存在") if unit_id is not None else None
    _check_times(None, fields)
    _check_eligibility(fields.get("eligibility"))
    if unit is None:
        within_scope(actor, community)
    elif unit.id not in actor.unit_ids and not actor.covers_community_id(community.id):
        raise NotFound("unit_not_found", "单位不存在或不在管辖范围内")
    if unit is not None and not _unit_reported(unit.id, community.id):
        raise Forbidden("unit_not_reported", "该单位未在此社区报到，不能在此组织活动")
    activity = Activity(community_id=community.id, unit_id=unit_id, status=ActivityStatus.PUBLISHED,
                        confirmed_count=0, created_by=actor.id)
    _apply(activity, fields)
    db.session.add(activity)
    db.session.flush()
    return activity


def update_activity(actor, activity_id, **changes):
    """Edit an activity; capacity never drops below the confirmed sign-ups, and a raise confirms waitlisted members."""
    _check_eligibility(changes.get("eligibility"))
    activity = access_activity(actor, activity_id, for_write=True)
    _check_times(activity, changes)
    if activity.status != ActivityStatus.PUBLISHED:
        raise Conflict("invalid_state", "活动已取消，不能修改")
    if "capacity" in changes and changes["capacity"] < activity.confirmed_count:
        raise ValidationFailed({"capacity": [f"不能少于已确认报名人数（{activity.confirmed_count}）"]})
    _apply(activity, changes)
    db.session.flush()
    while activity.confirmed_count < activity.capacity and _promote_next(activity):
        pass
    return activity


def cancel_activity(actor, activity_id):
    """Cancel a published activity and tell everyone signed up (confirmed or waitlisted)."""
    activity = access_activity(actor, activity_id, for_write=True)
    if not update_if(activity, Activity.status == ActivityStatus.PUBLISHED, status=ActivityStatus.CANCELLED):
        raise Conflict("invalid_state", "活动已取消")
    member_ids = db.session.scalars(select(Signup.member_id).where(
        Signup.activity_id == activity.id, Signup.status.in_(SignupStatus.ACTIVE)))
    for member_id in member_ids:
        notifications.notify(member_id, "activity_cancelled", f"活动已取消：{activity.title}",
                             ref=f"activity:{activity.id}", key=f"activity:{activity.id}:cancelled:{member_id}")
    return activity


def list_activities(*, community_id=None, unit_id=None, category=None, date_from=None, date_to=None, status=None):
    """Activities by start time; ``from``/``to`` are local dates, ``to`` inclusive; ``unit_id``: those it organises."""
    query = select(Activity).where(*within_local_days(Activity.starts_at, date_from, date_to))
    return where_given(query.order_by(Activity.starts_at, Activity.id), (Activity.community_id, community_id),
                       (Activity.unit_id, unit_id), (Activity.category, category), (Activity.status, status))


def _extras_columns(member_id):
    """What ``present`` shows of an activity beyond its row, as columns of a statement selecting activities: the
    count of each sign-up status and the member's own sign-up (``uq_signups_active`` holds one at most), on the
    sign-ups' ``activity_id`` index, and the name of the unit for a unit's activity, else of the community."""
    def signups(status):
        return (select(func.count()).where(Signup.activity_id == Activity.id, Signup.status == status)
                .scalar_subquery())

    mine = select(Signup.status).where(Signup.activity_id == Activity.id, Signup.member_id == member_id,
                                       Signup.status != SignupStatus.CANCELLED).scalar_subquery()
    organizer_name = case(
        (Activity.unit_id.is_not(None), select(Unit.name).where(Unit.id == Activity.unit_id).scalar_subquery()),
        else_=select(Region.name).where(Region.id == Activity.community_id).scalar_subquery())
    return signups(SignupStatus.CONFIRMED), signups(SignupStatus.WAITLISTED), mine, organizer_name


# Built once, the member a parameter (``extras_parameters``): made afresh, these five subqueries cost a page of
# activities more CPU than running them.
EXTRAS_COLUMNS = _extras_columns(bindparam("extras_member_id"))


def extras_parameters(actor):
    """The parameters of a statement with ``EXTRAS_COLUMNS``: whose sign-ups are the caller's (none without one)."""
    return {"extras_member_id": actor.id if actor is not None else None}


def present(activities, actor=None):
    """Activities already read, as ``present_rows`` shows them: their ``EXTRAS_COLUMNS`` in one statement."""
    if not activities:
        return []
    extras = select(Activity, *EXTRAS_COLUMNS).where(among(Activity.id, [a.id for a in activities]))
    rows = {row[0].id: row for row in db.session.execute(extras, extras_parameters(actor))}
    return present_rows([rows[a.id] for a in activities], actor)


def present_rows(rows, actor=None):
    """A page of activities, each row an activity and its ``EXTRAS_COLUMNS``, with their organiser, sign-up counts
    and, for the caller, its own sign-up status and whether it may sign up (``cannot_reason``: the code the sign-up
    would answer). One statement more at most for the whole page: the caller's memberships of the teams the page's
    criteria name; the caller's user is read only for a page with criteria on political status or unit."""
    team_ids = {a.eligible_team_id for a, *_ in rows if a.eligible_team_id is not None}
    my_teams = _active_teams_of(actor.id, team_ids) if actor is not None and team_ids else set()

    def in_team(team_id, _member_id):
        return team_id in my_teams

    now = utcnow()
    shown = []
    for a, confirmed, waitlisted, my_signup, organizer_name in rows:
        reason = None
        if actor is not None:
            reason = "already_signed_up" if my_signup is not None else cannot_sign_up_reason(
                a, actor, now=now, in_team=in_team)
        organizer = ({"type": "unit", "id": a.unit_id} if a.unit_id is not None
                     else {"type": "community", "id": a.community_id})
        shown.append({**as_dict(a), "location": a.location, "organizer": {**organizer, "name": organizer_name},
                      "eligibility": a.eligibility, "signed_up": confirmed, "waitlisted": waitlisted,
                      "my_signup": my_signup, "can_sign_up": actor is not None and reason is None,
                      "cannot_reason": reason})
    return shown


# Every sign-up and withdrawal runs one of these: built once, the activity a parameter.
TAKE_SEAT = (update(Activity)
             .where(Activity.id == bindparam("activity_id"), Activity.confirmed_count < Activity.capacity)
             .values(confirmed_count=Activity.confirmed_count + 1))
RELEASE_SEAT = (update(Activity).where(Activity.id == bindparam("activity_id"), Activity.confirmed_count > 0)
                .values(confirmed_count=Activity.confirmed_count - 1))


def _take_seat(activity_id):
    """True if a seat was free and is now taken: the database decides, one statement, no read-then-write."""
    return db.session.execute(TAKE_SEAT, {"activity_id": activity_id}).rowcount == 1


def _release_seat(activity_id):
    db.session.execute(RELEASE_SEAT, {"activity_id": activity_id})


def find_activity(activity_id):
    """An activity anyone signed in may see, unlocked; 404 when there is none."""
    return fetch(Activity, activity_id, _not_found())


def open_for_signup(activity_id):
    """The activity, its seats locked (so sign-ups and withdrawals of it take turns, always in this order: the
    activity, then sign-ups), if it still takes sign-ups (``check_open``); else 409."""
    activity = _lock_seats(activity_id)
    check_open(activity)
    return activity


def sign_up(actor, activity_id):
    """Confirmed while seats remain, else waitlisted; one active sign-up per member and activity; only a member who
    ``check_can_sign_up`` lets through (eligible, published, not over, within the window)."""
    activity = _lock_seats(activity_id)
    check_can_sign_up(activity, actor)
    signup = sign_up_member(activity, actor.id)
    if signup is None:
        raise Conflict("already_signed_up", "已经报名")
    return signup


def sign_up_member(activity, member_id, *, team=None):
    """Sign a member up for an activity ``open_for_signup`` returned: confirmed while seats remain, else
    waitlisted; None when the member already holds an active sign-up. With ``team`` its leader signs the member up
    (the sign-up carries the team) and the member is told so, free to decline as usual."""
    # The seat first (the activity is locked), then the sign-up in its final state, in one INSERT that the unique
    # index of active sign-ups may refuse: no savepoint around it and no second UPDATE of its status.
    confirmed = _take_seat(activity.id)
    signup = db.session.scalar(insert_ignoring_conflicts(Signup).values(
        activity_id=activity.id, member_id=member_id,
        status=SignupStatus.CONFIRMED if confirmed else SignupStatus.WAITLISTED,
        team_id=team.id if team else None, created_at=utcnow()).returning(Signup))
    if signup is None:
        if confirmed:
            _release_seat(activity.id)
        return None
    ref = f"activity:{activity.id}"
    if team is not None:
        notifications.notify(member_id, "team_signup", f"{team.name}已为您报名：{activity.title}",
                             "报名成功" if confirmed else "已进入候补，有名额空出时将自动递补；不能参加可取消报名",
                             ref=ref, key=f"signup:{signup.id}:team")
        subscriptions.push(member_id, "team_signup", signup.id,
                           {"id": activity.id, "team": team.name, "title": activity.title,
                            "start": to_local(activity.starts_at).strftime("%Y-%m-%d %H:%M"),
                            "result": "报名成功" if confirmed else "候补"},
                           page=f"pages/activities/detail?id={activity.id}")
    elif confirmed:
        notifications.notify(member_id, "signup_confirmed", f"报名成功：{activity.title}", ref=ref,
                             key=f"signup:{signup.id}:confirmed")
    else:
        notifications.notify(member_id, "signup_waitlisted", f"已进入候补：{activity.title}",
                             "有名额空出时将按报名先后自动递补", ref=ref, key=f"signup:{signup.id}:waitlisted")
    db.session.flush()
    return signup


def _promote_next(activity):
    """Confirm the longest-waiting waitlisted member if a seat is free; returns the promoted sign-up or None."""
    candidate = db.session.scalar(
        select(Signup).where(Signup.activity_id == activity.id, Signup.status == SignupStatus.WAITLISTED)
        .order_by(Signup.created_at, Signup.id).limit(1).with_for_update())
    if candidate is None or not _take_seat(activity.id):
        return None
    candidate.status = SignupStatus.CONFIRMED
    notifications.notify(candidate.member_id, "signup_promoted", f"候补转正：{activity.title}",
                         "有人取消报名，您已由候补转为正式报名", ref=f"activity:{activity.id}",
                         key=f"signup:{candidate.id}:promoted")
    db.session.flush()
    db.session.refresh(activity)
    return candidate


def cancel_signup(actor, activity_id):
    """The member withdraws, until the activity ends (after it, a withdrawal would promote someone to an event that
    is over); a confirmed seat goes to the longest-waiting waitlisted member at once."""
    activity = _lock_seats(activity_id)
    signup = db.session.scalar(select(Signup).where(
        Signup.activity_id == activity_id, Signup.member_id == actor.id, Signup.status.in_(SignupStatus.ACTIVE)))
    if signup is None:
        raise NotFound("signup_not_found", "没有报名记录")
    if activity.ends_at <= utcnow():
        raise Conflict("activity_ended", "活动已结束")
    was_confirmed = signup.status == SignupStatus.CONFIRMED
    signup.status = SignupStatus.CANCELLED
    signup.cancelled_at = utcnow()
    if was_confirmed:
        db.session.execute(update(Activity).where(Activity.id == activity.id, Activity.confirmed_count > 0)
                           .values(confirmed_count=Activity.confirmed_count - 1))
        db.session.flush()
        db.session.refresh(activity)
        if activity.status == ActivityStatus.PUBLISHED:
            _promote_next(activity)
    db.session.flush()


def list_signups(actor, activity_id, *, status=None):
    """The sign-ups of an activity, in order of arrival (staff of its community, or the organising unit's admins)."""
    activity = access_activity(actor, activity_id, for_write=False, as_staff=True)
    query = select(Signup).where(Signup.activity_id == activity.id).order_by(Signup.created_at, Signup.id)
    return where_given(query, (Signup.status, status))
