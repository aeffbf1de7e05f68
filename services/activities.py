"""Activities (活动) and their sign-ups.

Only staff of the activity's community (or a region above it) create, edit or cancel one. Confirmed sign-ups never
exceed the capacity: a seat is taken by a conditional ``UPDATE ... WHERE confirmed_count < capacity`` on the
activity row, which the database serialises; whoever misses it is waitlisted. Cancelling a confirmed sign-up frees
the seat and confirms the longest-waiting waitlisted member in the same transaction. Every change of seats locks the
activity row first, so promotions never interleave.
"""

from sqlalchemy import case, func, literal, select, update

from clock import utcnow, within_local_days
from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from models import Activity, Signup
from models.activity import ActivityStatus, SignupStatus
from services import notifications
from services.authz import access_in_community, fetch, staff_of_community
from services.database import add_unique, as_dict, update_if, where_given

LOCATION_FIELDS = ("address", "lat", "lng", "radius_m")
EDITABLE = ("title", "description", "category", "starts_at", "ends_at", "capacity", "requires_signup")


def _not_found():
    return NotFound("activity_not_found", "活动不存在或不在管辖范围内")


def access_activity(actor, activity_id, *, for_write, as_staff=None):
    """An activity: anyone signed in sees it; its community's staff (or above) manage it, locked when writing."""
    return access_in_community(actor, Activity, activity_id, _not_found(), for_write=for_write, as_staff=as_staff)


def _lock_seats(activity_id):
    """The activity row, locked: every change of its seats takes this lock first."""
    return fetch(Activity, activity_id, _not_found(), lock=True)


def _check_window(starts_at, ends_at):
    if ends_at <= starts_at:
        raise ValidationFailed({"ends_at": ["结束时间必须晚于开始时间"]})


def _apply(activity, changes):
    for field in EDITABLE:
        if field in changes:
            setattr(activity, field, changes[field])
    for field in LOCATION_FIELDS:
        if field in (changes.get("location") or {}):
            setattr(activity, field, changes["location"][field])


def create_activity(actor, *, community_id, **fields):
    """Staff of the community (or above) publish an activity; the end must come after the start."""
    staff_of_community(actor, community_id)
    _check_window(fields["starts_at"], fields["ends_at"])
    activity = Activity(community_id=community_id, status=ActivityStatus.PUBLISHED, confirmed_count=0,
                        created_by=actor.id)
    _apply(activity, fields)
    db.session.add(activity)
    db.session.flush()
    return activity


def update_activity(actor, activity_id, **changes):
    """Edit an activity; capacity never drops below the confirmed sign-ups, and a raise confirms waitlisted members."""
    activity = access_activity(actor, activity_id, for_write=True)
    if activity.status != ActivityStatus.PUBLISHED:
        raise Conflict("invalid_state", "活动已取消，不能修改")
    _check_window(changes.get("starts_at", activity.starts_at), changes.get("ends_at", activity.ends_at))
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


def list_activities(*, community_id=None, category=None, date_from=None, date_to=None, status=None):
    """Activities by start time; ``from``/``to`` are local dates, ``to`` inclusive."""
    query = select(Activity).where(*within_local_days(Activity.starts_at, date_from, date_to))
    return where_given(query.order_by(Activity.starts_at, Activity.id), (Activity.community_id, community_id),
                       (Activity.category, category), (Activity.status, status))


def signup_counts(activity_ids, member_id=None):
    """``({activity_id: {"confirmed": n, "waitlisted": m}}, {activity_id: member's status})`` in one grouped query:
    a member has one active sign-up per activity, so the group holding it is its status."""
    counts = {i: {SignupStatus.CONFIRMED: 0, SignupStatus.WAITLISTED: 0} for i in activity_ids}
    mine = {}
    if not activity_ids:
        return counts, mine
    has_mine = func.max(case((Signup.member_id == member_id, 1), else_=0)) if member_id is not None else literal(0)
    rows = db.session.execute(
        select(Signup.activity_id, Signup.status, func.count(), has_mine)
        .where(Signup.activity_id.in_(activity_ids), Signup.status.in_(SignupStatus.ACTIVE))
        .group_by(Signup.activity_id, Signup.status))
    for activity_id, status, count, is_mine in rows:
        counts[activity_id][status] = count
        if is_mine:
            mine[activity_id] = status
    return counts, mine


def present(activities, member_id=None):
    """A page of activities with their sign-up counts and, for a member, that member's own sign-up status (one
    grouped query for the page)."""
    counts, mine = signup_counts([a.id for a in activities], member_id)
    return [{**as_dict(a), "location": a.location, "signed_up": counts[a.id][SignupStatus.CONFIRMED],
             "waitlisted": counts[a.id][SignupStatus.WAITLISTED], "my_signup": mine.get(a.id)} for a in activities]


def _take_seat(activity_id):
    """True if a seat was free and is now taken: the database decides, one statement, no read-then-write."""
    result = db.session.execute(
        update(Activity).where(Activity.id == activity_id, Activity.confirmed_count < Activity.capacity)
        .values(confirmed_count=Activity.confirmed_count + 1))
    return result.rowcount == 1


def sign_up(actor, activity_id):
    """Confirmed while seats remain, else waitlisted; one active sign-up per member and activity."""
    activity = access_activity(actor, activity_id, for_write=False)
    if activity.status != ActivityStatus.PUBLISHED:
        raise Conflict("invalid_state", "活动已取消")
    if activity.ends_at <= utcnow():
        raise Conflict("activity_ended", "活动已结束")
    signup = Signup(activity_id=activity.id, member_id=actor.id, status=SignupStatus.WAITLISTED, created_at=utcnow())
    if not add_unique(signup):
        raise Conflict("already_signed_up", "已经报名")
    if _take_seat(activity.id):
        signup.status = SignupStatus.CONFIRMED
        notifications.notify(actor.id, "signup_confirmed", f"报名成功：{activity.title}",
                             ref=f"activity:{activity.id}", key=f"signup:{signup.id}:confirmed")
    else:
        notifications.notify(actor.id, "signup_waitlisted", f"已进入候补：{activity.title}",
                             "有名额空出时将按报名先后自动递补", ref=f"activity:{activity.id}",
                             key=f"signup:{signup.id}:waitlisted")
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
    """The sign-ups of an activity, in order of arrival (staff of its community)."""
    activity = access_activity(actor, activity_id, for_write=False, as_staff=True)
    query = select(Signup).where(Signup.activity_id == activity.id).order_by(Signup.created_at, Signup.id)
    return where_given(query, (Signup.status, status))
