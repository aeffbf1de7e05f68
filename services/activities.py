"""Activities (活动) and their sign-ups.

Only staff of the activity's community (or a region above it) create, edit or cancel one. Confirmed sign-ups never
exceed the capacity: a seat is taken by a conditional ``UPDATE ... WHERE confirmed_count < capacity`` on the
activity row, which the database serialises; whoever misses it is waitlisted. Cancelling a confirmed sign-up frees
the seat and confirms the longest-waiting waitlisted member in the same transaction.
"""


from sqlalchemy import func, select, update

from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from models import Activity, Signup
from services import notifications
from services.authz import require_community_admin
from services.clock import local_days_bounds, utcnow
from services.database import add_unique, find, update_if
from services.regions import get_community

LOCATION_FIELDS = ("address", "lat", "lng", "radius_m")
EDITABLE = ("title", "description", "category", "starts_at", "ends_at", "capacity", "requires_signup")
ACTIVE_SIGNUP = ("confirmed", "waitlisted")


def get_activity(activity_id):
    activity = find(Activity, activity_id)
    if activity is None:
        raise NotFound("activity_not_found", "活动不存在")
    return activity


def _check_window(starts_at, ends_at):
    if ends_at <= starts_at:
        raise ValidationFailed({"ends_at": ["结束时间必须晚于开始时间"]})


def _apply_location(activity, location):
    for field in LOCATION_FIELDS:
        if field in location:
            setattr(activity, field, location[field])


def create_activity(actor, data):
    """Staff of the community (or above) publish an activity; the end must come after the start."""
    get_community(data["community_id"])
    require_community_admin(actor, data["community_id"])
    _check_window(data["starts_at"], data["ends_at"])
    activity = Activity(community_id=data["community_id"], status="published", confirmed_count=0,
                        created_by=actor.id, **{k: data[k] for k in EDITABLE if k in data})
    _apply_location(activity, data.get("location") or {})
    db.session.add(activity)
    db.session.commit()
    return views([activity])[0]


def _locked(activity_id):
    """The activity row, locked for this transaction (a no-op on SQLite, already serialised)."""
    activity = db.session.scalar(
        select(Activity).where(Activity.id == activity_id).with_for_update(key_share=True)
        .execution_options(populate_existing=True))
    if activity is None:
        raise NotFound("activity_not_found", "活动不存在")
    return activity


def update_activity(actor, activity_id, changes):
    """Edit an activity; capacity never drops below the confirmed sign-ups, and a raise confirms waitlisted members."""
    activity = get_activity(activity_id)
    require_community_admin(actor, activity.community_id)
    activity = _locked(activity_id)
    if activity.status != "published":
        raise Conflict("invalid_state", "活动已取消，不能修改")
    _check_window(changes.get("starts_at", activity.starts_at), changes.get("ends_at", activity.ends_at))
    if "capacity" in changes and changes["capacity"] < activity.confirmed_count:
        raise ValidationFailed({"capacity": [f"不能少于已确认报名人数（{activity.confirmed_count}）"]})
    for field in EDITABLE:
        if field in changes:
            setattr(activity, field, changes[field])
    _apply_location(activity, changes.get("location") or {})
    db.session.flush()
    while activity.confirmed_count < activity.capacity and _promote_next(activity):
        pass
    db.session.commit()
    return views([activity])[0]


def cancel_activity(actor, activity_id):
    """Cancel a published activity and tell everyone signed up (confirmed or waitlisted)."""
    activity = get_activity(activity_id)
    require_community_admin(actor, activity.community_id)
    if not update_if(activity, Activity.status == "published", status="cancelled"):
        raise Conflict("invalid_state", "活动已取消")
    member_ids = db.session.scalars(select(Signup.member_id).where(
        Signup.activity_id == activity.id, Signup.status.in_(ACTIVE_SIGNUP)))
    for member_id in member_ids:
        notifications.notify(member_id, "activity_cancelled", f"活动已取消：{activity.title}",
                             ref=f"activity:{activity.id}", key=f"activity:{activity.id}:cancelled:{member_id}")
    db.session.commit()
    db.session.refresh(activity)
    return views([activity])[0]


def list_activities(community_id=None, category=None, date_from=None, date_to=None, status=None):
    """Activities by start time; ``from``/``to`` are local dates, ``to`` inclusive."""
    query = select(Activity).order_by(Activity.starts_at, Activity.id)
    if community_id is not None:
        query = query.where(Activity.community_id == community_id)
    if category:
        query = query.where(Activity.category == category)
    if status:
        query = query.where(Activity.status == status)
    start, end = local_days_bounds(date_from, date_to)
    if start is not None:
        query = query.where(Activity.starts_at >= start)
    if end is not None:
        query = query.where(Activity.starts_at < end)
    return query


def signup_counts(activity_ids):
    """``{activity_id: {"confirmed": n, "waitlisted": m}}`` in one grouped query."""
    counts = {i: {"confirmed": 0, "waitlisted": 0} for i in activity_ids}
    if not activity_ids:
        return counts
    rows = db.session.execute(
        select(Signup.activity_id, Signup.status, func.count())
        .where(Signup.activity_id.in_(activity_ids), Signup.status.in_(ACTIVE_SIGNUP))
        .group_by(Signup.activity_id, Signup.status))
    for activity_id, status, count in rows:
        counts[activity_id][status] = count
    return counts


class ActivityView:
    """An activity with its sign-up counts and, for a member, that member's own sign-up status."""

    def __init__(self, activity, counts, my_signup=None):
        self.activity = activity
        self.signed_up = counts["confirmed"]
        self.waitlisted = counts["waitlisted"]
        self.my_signup = my_signup

    def __getattr__(self, name):
        return getattr(self.activity, name)

    @property
    def location(self):
        return {field: getattr(self.activity, field) for field in LOCATION_FIELDS}


def my_signup_statuses(member_id, activity_ids):
    if not activity_ids:
        return {}
    return dict(db.session.execute(select(Signup.activity_id, Signup.status).where(
        Signup.member_id == member_id, Signup.activity_id.in_(activity_ids), Signup.status.in_(ACTIVE_SIGNUP))).all())


def views(activities, member_id=None):
    ids = [a.id for a in activities]
    counts = signup_counts(ids)
    mine = my_signup_statuses(member_id, ids) if member_id is not None else {}
    return [ActivityView(a, counts[a.id], mine.get(a.id)) for a in activities]


def activity_view(activity_id, member_id=None):
    return views([get_activity(activity_id)], member_id)[0]


def _take_seat(activity_id):
    """True if a seat was free and is now taken: the database decides, one statement, no read-then-write."""
    result = db.session.execute(
        update(Activity).where(Activity.id == activity_id, Activity.confirmed_count < Activity.capacity)
        .values(confirmed_count=Activity.confirmed_count + 1))
    return result.rowcount == 1


def sign_up(actor, activity_id):
    """Confirmed while seats remain, else waitlisted; one active sign-up per member and activity."""
    activity = get_activity(activity_id)
    if activity.status != "published":
        raise Conflict("invalid_state", "活动已取消")
    if activity.ends_at <= utcnow():
        raise Conflict("activity_ended", "活动已结束")
    signup = Signup(activity_id=activity.id, member_id=actor.id, status="waitlisted", created_at=utcnow())
    if not add_unique(signup):
        db.session.rollback()
        raise Conflict("already_signed_up", "已经报名")
    if _take_seat(activity.id):
        signup.status = "confirmed"
        notifications.notify(actor.id, "signup_confirmed", f"报名成功：{activity.title}",
                             ref=f"activity:{activity.id}", key=f"signup:{signup.id}:confirmed")
    else:
        notifications.notify(actor.id, "signup_waitlisted", f"已进入候补：{activity.title}",
                             "有名额空出时将按报名先后自动递补", ref=f"activity:{activity.id}",
                             key=f"signup:{signup.id}:waitlisted")
    db.session.commit()
    return signup


def _promote_next(activity):
    """Confirm the longest-waiting waitlisted member if a seat is free; returns the promoted sign-up or None."""
    candidate = db.session.scalar(
        select(Signup).where(Signup.activity_id == activity.id, Signup.status == "waitlisted")
        .order_by(Signup.created_at, Signup.id).limit(1).with_for_update())
    if candidate is None or not _take_seat(activity.id):
        return None
    candidate.status = "confirmed"
    notifications.notify(candidate.member_id, "signup_promoted", f"候补转正：{activity.title}",
                         "有人取消报名，您已由候补转为正式报名", ref=f"activity:{activity.id}",
                         key=f"signup:{candidate.id}:promoted")
    db.session.flush()
    db.session.refresh(activity)
    return candidate


def cancel_signup(actor, activity_id):
    """The member withdraws; a confirmed seat goes to the longest-waiting waitlisted member at once."""
    get_activity(activity_id)
    # Lock the activity first (the order every seat change uses) so promotions never interleave.
    activity = _locked(activity_id)
    signup = db.session.scalar(select(Signup).where(
        Signup.activity_id == activity_id, Signup.member_id == actor.id, Signup.status.in_(ACTIVE_SIGNUP)))
    if signup is None:
        db.session.rollback()
        raise NotFound("signup_not_found", "没有报名记录")
    was_confirmed = signup.status == "confirmed"
    signup.status = "cancelled"
    signup.cancelled_at = utcnow()
    if was_confirmed:
        db.session.execute(update(Activity).where(Activity.id == activity.id, Activity.confirmed_count > 0)
                           .values(confirmed_count=Activity.confirmed_count - 1))
        db.session.flush()
        db.session.refresh(activity)
        if activity.status == "published":
            _promote_next(activity)
    db.session.commit()


def list_signups(actor, activity_id, status=None):
    """The sign-ups of an activity, in order of arrival (staff of its community)."""
    activity = get_activity(activity_id)
    require_community_admin(actor, activity.community_id)
    query = select(Signup).where(Signup.activity_id == activity.id).order_by(Signup.created_at, Signup.id)
    if status:
        query = query.where(Signup.status == status)
    return query
