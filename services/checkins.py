"""QR check-in (扫码签到): one code path for activity and post tokens.

A scan is accepted only with a genuine, current token, from within ``radius_m`` of the place (haversine), from a
member who may be there (a confirmed sign-up where the activity requires one, else one who meets its eligibility
criteria, asked of ``activities.check_eligible``; an active assignment on a shift of the post that is on now),
inside the window (30 minutes before the start to the end). The first scan opens an attendance; a scan within
``CHECKIN_DEBOUNCE_SECONDS`` is a duplicate and changes nothing; a later one closes the attendance and creates a
pending service record. One open attendance per member and activity or shift is a partial unique index, and closing
is a conditional update, so simultaneous scans never open two or credit twice.

The common scan, a member's first at an activity with every rule met, is one statement (``_first_check_in``);
every other scan reads the place first and decides from what it finds, which tells each refusal apart. Both ways
share the SQL of the radius rule and of the sign-up lookup.
"""

import io
from datetime import timedelta
from functools import cache

import qrcode
from flask import current_app
from sqlalchemy import Float, Integer, and_, bindparam, cast, exists, false, func, null, or_, select, update

from clock import utcnow
from errors import BadRequest, Conflict, Forbidden
from extensions import db
from models import Activity, Attendance, Post, ServiceRecord, Shift, ShiftAssignment, Signup, User
from models.activity import ActivityStatus, SignupStatus
from models.post import AssignmentStatus
from models.record import RecordSource, RecordStatus
from services import checkin_tokens, rollups, wechat, wxacodes
from services.activities import access_activity, check_eligible
from services.database import as_dict, commit_batch, insert_ignoring_conflicts, is_sqlite
from services.posts import access_post
from services.records import log_change, span_hours

EARLY_CHECKIN = timedelta(minutes=30)
POST_CATEGORY = {"bin_station": "environment", "gate": "order", "patrol": "safety", "other": "order"}
EARTH_RADIUS_M = 6371008.8


class ScanResult:
    def __init__(self, action, attendance=None, service_record=None):
        self.action = action
        self.attendance = attendance
        self.service_record = service_record

    @property
    def status_code(self):
        return 201 if self.action == "check_in" else 200


def _outside_window():
    return Conflict("outside_window", "不在签到时间内（开始前 30 分钟至结束）")


def _not_signed_up():
    return Forbidden("not_signed_up", "未报名该活动或不在该班次")


# The parameters of the scan's statements, typed: some stand in a SELECT list, where the database needs the type.
MEMBER_ID, PLACE_ID = bindparam("member_id", type_=Integer), bindparam("place_id", type_=Integer)
LAT, LNG = bindparam("lat", type_=Float), bindparam("lng", type_=Float)
NOW = bindparam("now", type_=Attendance.__table__.c.checked_in_at.type)


def _within_radius(place, lat, lng):
    """SQL: the point (lat, lng) lies within the place's ``radius_m`` on the earth, or the place has no radius.

    It compares the haversine of the central angle with that of the radius, hav(radius / R), rather than the distance
    itself: no arcsine, so a rounding error near the antipode cannot leave its domain."""
    def haversine(angle):
        return func.power(func.sin(angle / 2.0), 2)

    central = (haversine(func.radians(place.c.lat - lat))
               + func.cos(func.radians(lat)) * func.cos(func.radians(place.c.lat))
               * haversine(func.radians(place.c.lng - lng)))
    return or_(place.c.lat.is_(None), place.c.lng.is_(None), place.c.radius_m.is_(None),
               central <= haversine(cast(place.c.radius_m, Float) / EARTH_RADIUS_M))


def _confirmed_signup(activities):
    signups = Signup.__table__
    return exists().where(signups.c.activity_id == activities.c.id, signups.c.member_id == MEMBER_ID,
                          signups.c.status == SignupStatus.CONFIRMED)


def _open_to_all(activities):
    """SQL: the activity restricts nobody (no eligibility criteria)."""
    return and_(activities.c.eligible_political_statuses.is_(None), activities.c.eligible_team_id.is_(None),
                activities.c.eligible_unit_id.is_(None))


def _signup_team(activities):
    """SQL: the team of the member's confirmed sign-up, which the attendance carries (None for one's own)."""
    signups = Signup.__table__
    return (select(signups.c.team_id).where(signups.c.activity_id == activities.c.id,
                                            signups.c.member_id == MEMBER_ID,
                                            signups.c.status == SignupStatus.CONFIRMED)
            .limit(1).scalar_subquery())


def _scan_statements():
    """Per kind of place, one statement reading the place, whether the scan is within its radius, the member's latest
    attendance there (open, or the one to debounce a check-out against) and, for an activity, whether the member's
    sign-up is confirmed.

    A scan is the hottest path there is, so these are Core statements of the columns a scan reads, built once: no ORM
    object is made, and their SQL and cache keys are computed once. An attendance a scan answers with or closes is
    loaded by its id (``_open_attendance``)."""
    activities, posts, shifts, attendances = (model.__table__ for model in (Activity, Post, Shift, Attendance))
    earlier = attendances.alias("earlier")
    latest_at_activity = (select(func.max(earlier.c.id))
                          .where(earlier.c.member_id == MEMBER_ID, earlier.c.activity_id == activities.c.id))
    latest_at_post = (select(func.max(earlier.c.id)).join(shifts, shifts.c.id == earlier.c.shift_id)
                      .where(earlier.c.member_id == MEMBER_ID, shifts.c.post_id == posts.c.id))
    latest = (attendances.c.id.label("latest_id"), attendances.c.checked_out_at.label("latest_checked_out_at"))

    def place(table, *columns):
        return (table.c.id, _within_radius(table, LAT, LNG).label("within_radius"), *columns)

    return {
        "activity": select(*place(activities, activities.c.status, activities.c.starts_at, activities.c.ends_at,
                                  activities.c.requires_signup, _open_to_all(activities).label("open_to_all")),
                           *latest, _confirmed_signup(activities).label("confirmed"),
                           _signup_team(activities).label("team_id"))
        .select_from(activities.outerjoin(attendances, attendances.c.id == latest_at_activity.scalar_subquery()))
        .where(activities.c.id == PLACE_ID),
        "post": select(*place(posts), *latest, false().label("confirmed"), null().label("team_id"))
        .select_from(posts.outerjoin(attendances, attendances.c.id == latest_at_post.scalar_subquery()))
        .where(posts.c.id == PLACE_ID),
    }


SCAN_STATEMENTS = _scan_statements()


@cache
def _first_check_in(_sqlite):
    """``INSERT ... SELECT ... RETURNING id``: a member's first scan at an activity, when every rule holds, in one
    statement, built once per kind of database.

    The activity is published, now is in its window, the member's sign-up is confirmed where one is required (else
    the activity has no eligibility criteria: a member is checked against them on the full path), the scan is
    within the radius, and the member has no attendance there that is open or was closed within the
    debounce. Otherwise it inserts nothing, and the scan takes the full path, which tells a check-out, a duplicate
    and each refusal apart."""
    activities, attendances = Activity.__table__, Attendance.__table__
    earlier = attendances.alias("earlier")
    time = attendances.c.checked_in_at.type
    recent = or_(earlier.c.checked_out_at.is_(None),
                 earlier.c.checked_out_at > bindparam("debounced_since", type_=time))
    eligible = select(MEMBER_ID, activities.c.id, NOW, LAT, LNG, false(), _signup_team(activities)).where(
        activities.c.id == PLACE_ID, activities.c.status == ActivityStatus.PUBLISHED,
        activities.c.starts_at <= bindparam("latest_start", type_=time), activities.c.ends_at >= NOW,
        or_(and_(activities.c.requires_signup.is_(False), _open_to_all(activities)), _confirmed_signup(activities)),
        _within_radius(activities, LAT, LNG),
        ~exists().where(earlier.c.member_id == MEMBER_ID, earlier.c.activity_id == activities.c.id, recent))
    columns = ("member_id", "activity_id", "checked_in_at", "check_in_lat", "check_in_lng", "needs_review", "team_id")
    return insert_ignoring_conflicts(attendances).from_select(columns, eligible).returning(attendances.c.id)


@cache
def _open_attendance_insert(_sqlite):
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` of an attendance, built once per kind of database.

    The partial unique index on open attendances decides a race: the losing insert does nothing."""
    return insert_ignoring_conflicts(Attendance.__table__).returning(Attendance.__table__.c.id)


def _scan_context(kind, target_id, member_id, lat, lng):
    """The place's columns with the member's latest attendance there and the sign-up, in one row; invalid_token when
    the place is gone."""
    context = db.session.execute(SCAN_STATEMENTS[kind], {"member_id": member_id, "place_id": target_id, "lat": lat,
                                                         "lng": lng}).first()
    if context is None:
        raise BadRequest("invalid_token", "二维码无效")
    if kind == "activity" and context.status != ActivityStatus.PUBLISHED:
        raise Conflict("activity_cancelled", "活动已取消")
    return context


def _open_attendance(context):
    """The member's open attendance at the place, or None."""
    if context.latest_id is None or context.latest_checked_out_at is not None:
        return None
    return db.session.get(Attendance, context.latest_id)


def shift_on_now(member_id, post_id, now):
    """The statement for the post's shift on now (from 30 minutes before its start to its end) as ``(id, assigned)``:
    one with the member on it first, else any, so one query tells a scan outside every shift from a scan by someone
    on none of them."""
    assigned = exists().where(ShiftAssignment.shift_id == Shift.id, ShiftAssignment.member_id == member_id,
                              ShiftAssignment.status.in_(AssignmentStatus.ON_SHIFT))
    return (select(Shift.id, assigned.label("assigned"))
            .where(Shift.post_id == post_id, Shift.ends_at >= now, Shift.starts_at <= now + EARLY_CHECKIN)
            .order_by(assigned.desc(), Shift.starts_at).limit(1))


def _shift_id_on_now(member_id, post, now):
    shift = db.session.execute(shift_on_now(member_id, post.id, now)).first()
    if shift is None:
        raise _outside_window()
    if not shift.assigned:
        raise _not_signed_up()
    return shift.id


def _window(attendance):
    source = db.session.get(Activity, attendance.activity_id) if attendance.activity_id else \
        db.session.get(Shift, attendance.shift_id)
    return source.starts_at, source.ends_at


def _debounce():
    return timedelta(seconds=int(current_app.config["CHECKIN_DEBOUNCE_SECONDS"]))


def scan(actor, token, lat, lng):
    """Check in, check out, or recognise a duplicate scan (see the module docstring for the rules)."""
    now = utcnow()
    kind, target_id, _slot = checkin_tokens.decode(token, now)
    values = {"member_id": actor.id, "activity_id": None, "shift_id": None, "checked_in_at": now,
              "check_in_lat": lat, "check_in_lng": lng, "needs_review": False, "team_id": None}
    if kind == "activity":
        # On the session's connection: a Core statement needs none of the ORM's execution.
        attendance_id = db.session.connection().scalar(_first_check_in(is_sqlite()), {
            "member_id": actor.id, "place_id": target_id, "now": now, "lat": lat, "lng": lng,
            "latest_start": now + EARLY_CHECKIN, "debounced_since": now - _debounce()})
        if attendance_id is not None:
            return _checked_in({**values, "activity_id": target_id}, attendance_id)

    place = _scan_context(kind, target_id, actor.id, lat, lng)
    if not place.within_radius:
        raise Forbidden("out_of_range", "不在签到范围内，请到达现场后再扫码")
    open_attendance = _open_attendance(place)
    if open_attendance is not None:
        return _second_scan(open_attendance, now)
    if place.latest_id is not None and now - place.latest_checked_out_at < _debounce():
        # A double tap at check-out is not a new check-in.
        return ScanResult("duplicate")

    if kind == "activity":
        if not (place.starts_at - EARLY_CHECKIN <= now <= place.ends_at):
            raise _outside_window()
        if place.requires_signup and not place.confirmed:
            raise _not_signed_up()
        if not place.requires_signup and not place.open_to_all:
            check_eligible(db.session.get(Activity, place.id), actor)
        values["activity_id"] = place.id
        values["team_id"] = place.team_id
    else:
        values["shift_id"] = _shift_id_on_now(actor.id, place, now)
    attendance_id = db.session.scalar(_open_attendance_insert(is_sqlite()), values)
    if attendance_id is None:
        # Lost the race to a simultaneous scan of the same member: answer with the attendance it opened.
        return ScanResult("duplicate", _open_attendance(_scan_context(kind, target_id, actor.id, lat, lng)))
    if values["shift_id"] is not None:
        _move_assignment(values["shift_id"], actor.id, AssignmentStatus.OPEN, AssignmentStatus.CHECKED_IN)
    return _checked_in(values, attendance_id)


def _checked_in(values, attendance_id):
    # The answer is what was inserted: no ORM object is made for it.
    return ScanResult("check_in", {**values, "id": attendance_id, "checked_out_at": None, "minutes": None})


def _move_assignment(shift_id, member_id, from_statuses, to):
    """The member's seat on the shift follows the scans: ``checked_in`` at the first, ``attended`` at the check-out
    (settled, so counted in the statistics)."""
    moved = db.session.execute(update(ShiftAssignment).where(
        ShiftAssignment.shift_id == shift_id, ShiftAssignment.member_id == member_id,
        ShiftAssignment.status.in_(from_statuses)).values(status=to).execution_options(synchronize_session=False))
    if moved.rowcount and to in AssignmentStatus.SETTLED:
        rollups.assignments_settled([(shift_id, to)] * moved.rowcount)


def _second_scan(attendance, now):
    if now - attendance.checked_in_at < _debounce():
        return ScanResult("duplicate", attendance)
    _start, end = _window(attendance)
    # The contract's window holds for check-outs too; a forgotten one is closed by the scheduler for review.
    if now > end:
        raise _outside_window()
    closed, record = close_attendance(attendance, now)
    if not closed:
        return ScanResult("duplicate")
    return ScanResult("check_out", attendance, record)


def _holds_seat(shift_id, member_id):
    return db.session.scalar(select(ShiftAssignment.id).where(
        ShiftAssignment.shift_id == shift_id, ShiftAssignment.member_id == member_id,
        ShiftAssignment.status.in_(AssignmentStatus.HELD))) is not None


def close_attendance(attendance, closed_at, by_scheduler=False):
    """Close an open attendance and create its pending record: ``(closed, record)``, ``closed`` False when someone
    else closed it first.

    Hours are the time on site clipped to the activity's or shift's window, rounded down to 0.01 h. Closed by the
    scheduler, the attendance is marked for review and the record says so: never silently credited. At a shift the
    member no longer holds a seat on (it was given up), the attendance closes without hours (``record`` None).
    """
    minutes = max(0, int((closed_at - attendance.checked_in_at).total_seconds() // 60))
    result = db.session.execute(
        update(Attendance).where(Attendance.id == attendance.id, Attendance.checked_out_at.is_(None))
        .values(checked_out_at=closed_at, minutes=minutes, needs_review=by_scheduler)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False, None
    db.session.refresh(attendance)
    if attendance.activity_id:
        activity = db.session.get(Activity, attendance.activity_id)
        window, community_id, category, title = (activity.starts_at, activity.ends_at), activity.community_id, \
            activity.category, activity.title
    else:
        shift = db.session.get(Shift, attendance.shift_id)
        post = db.session.get(Post, shift.post_id)
        window, community_id, category, title = (shift.starts_at, shift.ends_at), post.community_id, \
            POST_CATEGORY.get(post.kind, "order"), post.name
    rollups.attendances_closed([(community_id, attendance.checked_in_at)])
    if attendance.shift_id:
        if not _holds_seat(shift.id, attendance.member_id):
            return True, None
        _move_assignment(shift.id, attendance.member_id, (AssignmentStatus.CHECKED_IN,), AssignmentStatus.ATTENDED)
    started_at = max(attendance.checked_in_at, window[0])
    ended_at = max(started_at, min(closed_at, window[1]))
    description = title
    if by_scheduler:
        description = f"{title}（未签退，系统于结束时间自动签退，待核实）"
    record = ServiceRecord(
        member_id=attendance.member_id, community_id=community_id, activity_id=attendance.activity_id,
        shift_id=attendance.shift_id, attendance_id=attendance.id, team_id=attendance.team_id,
        category=category, started_at=started_at,
        ended_at=ended_at, hours=span_hours(started_at, ended_at), description=description,
        status=RecordStatus.PENDING, source=RecordSource.AUTO_CLOSED if by_scheduler else RecordSource.CHECKIN,
        created_at=utcnow())
    db.session.add(record)
    db.session.flush()
    log_change(record, None if by_scheduler else attendance.member_id, "create")
    return True, record


def attendances_open_after_end(now):
    """The statements finding attendances still open after their activity or shift ended, one per kind of place.

    Each repeats the predicate of that kind's partial unique index on open attendances, so the job reads only the
    attendances open now, however long the history grows (one query over both kinds read the whole table)."""
    return [select(Attendance).join(source, source.id == column)
            .where(column.is_not(None), Attendance.checked_out_at.is_(None), source.ends_at < now)
            .order_by(Attendance.id)
            for source, column in ((Activity, Attendance.activity_id), (Shift, Attendance.shift_id))]


def close_open_attendances(now=None):
    """Close attendances still open after their activity or shift ended, at the scheduled end, each committed on
    its own (``commit_batch``)."""
    now = now or utcnow()
    closed = 0
    for statement in attendances_open_after_end(now):
        for attendance in list(db.session.scalars(statement)):
            _start, end = _window(attendance)
            if close_attendance(attendance, end, by_scheduler=True)[0]:
                closed += 1
            commit_batch()
    return closed


def list_attendances(actor, activity_id):
    """The attendances at an activity in order of check-in (staff of its community or above, or the organising
    unit's admins)."""
    activity = access_activity(actor, activity_id, for_write=False, as_staff=True)
    return (select(Attendance).where(Attendance.activity_id == activity.id)
            .order_by(Attendance.checked_in_at, Attendance.id))


def present_attendances(attendances):
    """A page of attendances with each member's name (one query for the page)."""
    member_ids = {a.member_id for a in attendances}
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(member_ids))).all()) \
        if member_ids else {}
    return [{**as_dict(a), "member_name": names.get(a.member_id)} for a in attendances]


def activity_qrcode(actor, activity_id):
    """The activity's current token for the organiser's screen (staff of its community or above, or the organising
    unit's admins)."""
    activity = access_activity(actor, activity_id, for_write=False, as_staff=True)
    token, expires_at = checkin_tokens.activity_token(activity)
    return {"token": token, "expires_at": expires_at, "url": checkin_tokens.checkin_url(token)}


def post_qrcode(actor, post_id):
    """The post's static token, for printing (staff of its community or above)."""
    post = access_post(actor, post_id, for_write=False, as_staff=True)
    token = checkin_tokens.post_token(post)
    return {"token": token, "expires_at": None, "url": checkin_tokens.checkin_url(token)}


def activity_wxacode(actor, activity_id):
    """The mini-program code of the activity's current token, for the organiser's screen."""
    code = activity_qrcode(actor, activity_id)
    return wxacodes.image(code["token"], code["expires_at"])


def post_wxacode(actor, post_id):
    """The mini-program code of the post's static token, for printing."""
    return wxacodes.image(post_qrcode(actor, post_id)["token"])


def post_printed_png(actor, post_id):
    """What ``?format=png`` prints for a post: its mini-program code when WeChat is configured (WeChat's own scanner
    then opens the mini-program), else an ordinary QR code of the token; and when a client should stop using it."""
    if wechat.configured():
        return post_wxacode(actor, post_id)
    return qr_png(post_qrcode(actor, post_id)["token"]), None


def qr_png(text):
    """A PNG QR code whose text is exactly ``text``."""
    image = qrcode.make(text, box_size=8, border=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
