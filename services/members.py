"""Members: registration, profile, personal data and the figures on ``GET /me``."""

from decimal import Decimal

from sqlalchemy import bindparam, func, select

from errors import Conflict, Unprocessable, ValidationFailed
from extensions import db
from integrations.wechat import WeChatRefused, WeChatUnavailable
from models import PointsEntry, Report, ServiceRecord, Unit, User
from models.record import RecordStatus
from models.report import ReportStatus
from services import moderation, pii, rollups, shifts, wechat
from services.accounts import create_account
from services.database import as_dict, find

STAR_THRESHOLDS = (100, 300, 600, 1000, 1500)
PROFILE_FIELDS = ("name", "phone", "political_status", "in_service", "unit_id")


def register_member(openid=None, name=None):
    return create_account(openid=openid, name=name)


def update_profile(user, **changes):
    """Apply a profile change; phone and ID number are validated, the ID number encrypted and unique. A member's
    new name goes through content security (scene 1): risky → 422, review → kept, hidden from other members until
    staff approve it."""
    errors = {}
    if changes.get("phone") is not None and not pii.is_valid_phone(changes["phone"]):
        errors["phone"] = ["请输入 11 位大陆手机号"]
    id_number = changes.get("id_number")
    if id_number is not None and not pii.is_valid_id_number(id_number):
        errors["id_number"] = ["身份证号码无效（18 位，地区码、出生日期和校验位需正确）"]
    if changes.get("unit_id") is not None and find(Unit, changes["unit_id"]) is None:
        errors["unit_id"] = ["单位不存在"]
    if errors:
        raise ValidationFailed(errors)
    renamed = changes.get("name") is not None and changes["name"] != user.name
    held = moderation.screen(None if user.roles else user, {"name": changes["name"]},
                             moderation.SCENE_NAME) if renamed else []
    if "phone" in changes and changes["phone"] != user.phone:
        user.phone_verified = False
    old_unit_id = user.unit_id
    for field in PROFILE_FIELDS:
        if field in changes:
            setattr(user, field, changes[field])
    if "id_number" in changes:
        set_id_number(user, id_number)
    db.session.flush()
    # The flush above updated (so locked) the member's row: approvals counting their unit wait for this one.
    rollups.member_unit_changed(user.id, old_unit_id, user.unit_id)
    if renamed:
        moderation.supersede("user", user.id, "name")
    if held:
        moderation.hold(_moderating_community(user.id), "user", user.id, {"name": user.name}, user.id)
    return user


def _moderating_community(member_id):
    """Whose staff decide on a member's name: the community of its latest report (None: a sysadmin's)."""
    return db.session.scalar(select(Report.community_id).where(Report.member_id == member_id, Report.kind == "member")
                             .order_by(Report.id.desc()).limit(1))


def verify_phone(user, code):
    """The phone WeChat verified for a ``getPhoneNumber`` code becomes the user's: 422 ``phone_code_invalid`` when
    WeChat refuses the code, 422 ``phone_not_mainland`` for a number outside mainland China, 503 when unreachable."""
    try:
        number, country = wechat.client().phone_number(code)
    except WeChatRefused as exc:
        raise Unprocessable("phone_code_invalid", "手机号授权已失效，请重新授权", {"errcode": exc.errcode}) from None
    except WeChatUnavailable:
        raise wechat.unavailable() from None
    if country != "86" or not pii.is_valid_phone(number):
        raise Unprocessable("phone_not_mainland", "请使用中国大陆手机号")
    user.phone = number
    user.phone_verified = True
    db.session.flush()
    return user


def set_id_number(user, id_number):
    if id_number is None:
        user.id_number_encrypted = user.id_number_hash = user.id_number_masked = None
        return
    id_number = pii.normal_id_number(id_number)
    lookup = pii.lookup_hash(id_number)
    holder = db.session.scalar(select(User.id).where(User.id_number_hash == lookup))
    if holder is not None and holder != user.id:
        raise Conflict("id_number_taken", "该身份证号码已被其他成员使用")
    user.id_number_encrypted = pii.encrypt(id_number)
    user.id_number_hash = lookup
    user.id_number_masked = pii.mask_id_number(id_number)


def id_number_of(user):
    """The member's ID number in the clear (for erasing its copies when the account closes); None without one."""
    return pii.decrypt(user.id_number_encrypted) if user.id_number_encrypted else None


def set_unavailability(user, *, weekdays, dates):
    """Save the member's unavailable weekdays and dates; seats they hold on coming shifts touching them become
    stand-in requests to the pools (``shifts.release_unavailable_days``): the shifts' ids."""
    user.unavailable_weekdays = sorted(set(weekdays))
    user.unavailable_dates = sorted({d.isoformat() for d in dates})
    # The flush updates (so locks) the member's row first, as every writer of their seats does.
    db.session.flush()
    return shifts.release_unavailable_days(user)


def star_level(hours):
    return sum(1 for threshold in STAR_THRESHOLDS if hours >= threshold)


def _profile_statement(member_id):
    hours = select(func.coalesce(func.sum(ServiceRecord.hours), 0)).where(
        ServiceRecord.member_id == member_id, ServiceRecord.status == RecordStatus.APPROVED).scalar_subquery()
    balance = select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(
        PointsEntry.member_id == member_id).scalar_subquery()
    community = select(Report.community_id).where(
        Report.member_id == member_id, Report.kind == "member",
        Report.status == ReportStatus.APPROVED).scalar_subquery()
    held = moderation.review_column("user", member_id)
    return select(User, hours, balance, community, held).where(User.id == member_id)


# Built once, the member a parameter: the app opens on it, and its four subqueries cost more to make than to run.
PROFILE = _profile_statement(bindparam("member_id"))


def profile(actor):
    """What ``GET /me`` shows: the caller's own fields, its roles and its figures. The user, its three figures and
    whether its name waits for moderation come in one statement (``PROFILE``); a user already read (after a change)
    is taken as it is in the session."""
    _, hours, balance, community_id, held = db.session.execute(PROFILE, {"member_id": actor.id}).one()
    user = actor.user  # the row just read, from the session (and its roles known to be none: services.authz)
    hours = Decimal(hours).quantize(Decimal("0.01"))
    return {**as_dict(user), "moderation": "review" if held else None, "roles": user.roles,
            "community_id": community_id, "approved_hours": hours, "star_level": star_level(hours),
            "points": int(balance)}
