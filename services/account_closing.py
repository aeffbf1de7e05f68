"""Closing a member's account (``DELETE /me``), in the one unit of work of the request.

The member's open commitments are given back through the services that give them back every day, so waitlists
promote and stand-ins are asked exactly as when the member withdraws by hand; then everything personal is erased:
name, phone, ID number (its ciphertext, mask and keyed fingerprint), openid, the resident's name and phone on its
appeals, the holder's name on its certificates, its notifications, pending subscribe messages and grants. Approved
hours and certificates stay, under the volunteer number, which is also the name audit history shows from then on
(``services.accounts.SHOWN_NAME``). Every token is refused afterwards: the user is inactive and its sign-in sessions
revoked. The openid is gone, so signing in again with WeChat registers a new member.

``CLOSING_STEPS`` is the order; a feature that holds more of a member adds its step there (see the teams note).
"""

from sqlalchemy import String, cast, delete, func, select, update

from clock import utcnow
from errors import Conflict
from extensions import db
from models import (
    Activity,
    Appeal,
    AppealEscalation,
    AppealEvent,
    AuthSession,
    CorrectionRequest,
    Feedback,
    LoginAttempt,
    ModerationItem,
    Notification,
    OutboundMessage,
    PoolMembership,
    RecordChange,
    Report,
    ServiceRecord,
    Shift,
    ShiftAssignment,
    Signup,
    SubscriptionGrant,
    TeamMember,
    User,
    Wish,
)
from models.activity import SignupStatus
from models.post import AssignmentStatus
from models.report import ReportStatus
from models.wish import WishStatus
from services import (
    activities,
    appeals,
    certificates,
    members,
    posts,
    records,
    reports,
    rollups,
    shifts,
    teams,
    wishes,
)
from services.authz import require_member

CLOSED_REASON = "账号已注销"


def _release_signups(actor, now):
    """Sign-ups of activities not yet over are cancelled; a confirmed seat goes to the waitlist's first."""
    activity_ids = db.session.scalars(
        select(Signup.activity_id).join(Activity, Activity.id == Signup.activity_id)
        .where(Signup.member_id == actor.id, Signup.status.in_(SignupStatus.ACTIVE), Activity.ends_at > now)
        .order_by(Signup.activity_id)).all()
    for activity_id in activity_ids:
        activities.cancel_signup(actor, activity_id)


def _release_future_shifts(actor, now):
    """Shifts not yet started: the post's pool is asked for a stand-in (as the member would ask); a shift whose post
    has nobody else to ask, or whose stand-in was already asked, is declined so its seat is free."""
    rows = db.session.execute(
        select(ShiftAssignment.shift_id, ShiftAssignment.status, Shift.post_id)
        .join(Shift, Shift.id == ShiftAssignment.shift_id)
        .where(ShiftAssignment.member_id == actor.id, ShiftAssignment.status.in_(AssignmentStatus.OPEN),
               Shift.starts_at > now)
        .order_by(Shift.starts_at, Shift.id)).all()
    for shift_id, status, post_id in rows:
        others = db.session.scalar(select(PoolMembership.id).where(
            PoolMembership.post_id == post_id, PoolMembership.member_id != actor.id).limit(1))
        if status == AssignmentStatus.ASSIGNED and others is not None:
            shifts.request_standin(actor, shift_id)
        else:
            shifts.decline(actor, shift_id)


def _leave_pools(actor, now):
    """Out of every roster pool, so no later generation assigns the closed account."""
    post_ids = db.session.scalars(select(PoolMembership.post_id).where(PoolMembership.member_id == actor.id)
                                  .order_by(PoolMembership.post_id)).all()
    for post_id in post_ids:
        posts.leave_pool(actor, post_id)


def _release_wishes(actor, now):
    """Wishes the member claimed and has not fulfilled are open again for anyone."""
    wish_ids = db.session.scalars(select(Wish.id).where(
        Wish.claimer_member_id == actor.id, Wish.status == WishStatus.CLAIMED).order_by(Wish.id)).all()
    for wish_id in wish_ids:
        wishes.release(actor, wish_id)


def _withdraw_pending_reports(actor, now):
    report_ids = db.session.scalars(select(Report.id).where(
        Report.member_id == actor.id, Report.kind == "member", Report.status == ReportStatus.PENDING)).all()
    for report_id in report_ids:
        reports.withdraw(actor, report_id)


def _decline_corrections(actor, now):
    records.decline_open_requests(actor.id, CLOSED_REASON)


def _end_team_memberships(actor, now):
    """Out of every team (and its leadership, and any request waiting), as leaving does: the history says so."""
    team_ids = db.session.scalars(select(TeamMember.team_id).where(TeamMember.member_id == actor.id)
                                  .order_by(TeamMember.team_id)).all()
    for team_id in team_ids:
        teams.leave(actor, team_id)


def _own_texts(member_id):
    """Text columns that may quote the member's name, phone or ID number (written by the member, or about it by
    staff and copied along), each with the rows that concern the member."""
    appeal_ids = select(Appeal.id).where(Appeal.member_id == member_id)
    record_ids = select(ServiceRecord.id).where(ServiceRecord.member_id == member_id)
    report_ids = select(Report.id).where(Report.member_id == member_id)
    return (
        ((Appeal.title, Appeal.content, Appeal.address, Appeal.rating_comment, Appeal.reply, Appeal.reject_reason),
         Appeal.member_id == member_id),
        ((AppealEvent.note,), AppealEvent.appeal_id.in_(appeal_ids)),
        ((AppealEscalation.note, AppealEscalation.answer, AppealEscalation.recall_reason),
         AppealEscalation.appeal_id.in_(appeal_ids)),
        # A wish made from the member's appeal names the resident as its beneficiary.
        ((Wish.title, Wish.description, Wish.beneficiary), Wish.appeal_id.in_(appeal_ids)),
        ((Wish.fulfil_note,), Wish.claimer_member_id == member_id),
        ((ServiceRecord.description, ServiceRecord.reason), ServiceRecord.member_id == member_id),
        ((RecordChange.reason,), RecordChange.record_id.in_(record_ids)),
        ((CorrectionRequest.reason, CorrectionRequest.decline_reason), CorrectionRequest.member_id == member_id),
        ((Feedback.comment,), Feedback.report_id.in_(report_ids)),
        ((ModerationItem.text, ModerationItem.reason), ModerationItem.author_id == member_id),
        # Staff's notifications about the member's appeals quote their titles.
        ((Notification.title, Notification.body),
         Notification.ref.in_(select("appeal:" + cast(Appeal.id, String)).where(Appeal.member_id == member_id))),
    )


def _scrub_own_texts(actor, now):
    """Audit history and what the member wrote keep their words, with the name, phone and ID number replaced by the
    volunteer number (one UPDATE per table, in the database, so long histories are not loaded)."""
    user = db.session.get(User, actor.id)
    secrets = [value for value in (user.name, user.phone, user.id_number_encrypted and members.id_number_of(user))
               if value and len(value) >= 2]
    if not secrets:
        return
    for columns, concerns in _own_texts(actor.id):
        for column in columns:
            scrubbed = column
            for secret in secrets:
                scrubbed = func.replace(scrubbed, secret, user.volunteer_number)
            db.session.execute(update(column.table).where(concerns, column.is_not(None))
                               .values({column.key: scrubbed}).execution_options(synchronize_session=False))
    # The history's before/after copies of a record (its description) are JSON: rewritten row by row.
    for change in db.session.scalars(select(RecordChange).where(RecordChange.record_id.in_(
            select(ServiceRecord.id).where(ServiceRecord.member_id == actor.id)))):
        for side in ("before", "after"):
            value = getattr(change, side)
            if value and isinstance(value.get("description"), str):
                text = value["description"]
                for secret in secrets:
                    text = text.replace(secret, user.volunteer_number)
                if text != value["description"]:
                    setattr(change, side, {**value, "description": text})
    db.session.flush()


def _forget_appeal_resident(actor, now):
    appeals.forget_resident(actor.id)


def _anonymise_certificates(actor, now):
    certificates.forget_holder(actor.id)


def _delete_personal_rows(actor, now):
    """Notifications, pending subscribe messages (they carry the openid), grants and names held for moderation."""
    db.session.execute(delete(Notification).where(Notification.member_id == actor.id))
    db.session.execute(delete(OutboundMessage).where(OutboundMessage.member_id == actor.id))
    db.session.execute(delete(ModerationItem).where(ModerationItem.object_type == "user",
                                                    ModerationItem.object_id == actor.id))
    db.session.execute(delete(SubscriptionGrant).where(SubscriptionGrant.member_id == actor.id))


def _erase_user(actor, now):
    """The row stays (hours, certificates and history point at it) with nothing personal left in it."""
    user = db.session.get(User, actor.id)
    if user.username:
        # Failed password sign-ins are kept by their username (services/auth.py).
        key = f"login:{user.username.lower()}"[:64]
        db.session.execute(delete(LoginAttempt).where(LoginAttempt.username_key == key))
    members.set_id_number(user, None)
    old_unit_id = user.unit_id
    for field, value in {"openid": None, "name": None, "phone": None, "username": None, "password_hash": None,
                         "political_status": "masses", "in_service": False, "unit_id": None,
                         "unavailable_weekdays": [], "unavailable_dates": [], "is_active": False,
                         "closed_at": now}.items():
        setattr(user, field, value)
    db.session.execute(update(AuthSession).where(AuthSession.user_id == actor.id, AuthSession.revoked_at.is_(None))
                       .values(revoked_at=now))
    db.session.flush()
    # The unit goes with the account, and with it the member's records from the unit's figures.
    rollups.member_unit_changed(user.id, old_unit_id, None)


# In this order: commitments are released while the account can still act (the services check the caller is their
# holder), then personal data goes.
CLOSING_STEPS = (
    _release_signups,
    _release_future_shifts,
    _leave_pools,
    _release_wishes,
    _withdraw_pending_reports,
    _decline_corrections,
    _end_team_memberships,
    _scrub_own_texts,
    _forget_appeal_resident,
    _anonymise_certificates,
    _delete_personal_rows,
    _erase_user,
)


def close_account(actor):
    """``DELETE /me``: a member without a staff role closes its account (staff first give their roles up)."""
    require_member(actor)
    if actor.roles:
        raise Conflict("has_staff_role", "该账号有管理角色，请先由管理员移除角色后再注销")
    # The member first, as every writer of its shifts does, so closing and a sign-up of its own never interleave.
    shifts.lock_member(actor.id)
    if db.session.scalar(select(User.closed_at).where(User.id == actor.id)) is not None:
        return  # closed by a simultaneous request of its own, which held the lock first
    now = utcnow()
    for step in CLOSING_STEPS:
        step(actor, now)
