"""Members: registration, profile, personal data and the figures on ``GET /me``."""

from decimal import Decimal

from sqlalchemy import func, select

from errors import Conflict, ValidationFailed
from extensions import db
from models import PointsEntry, Report, ServiceRecord, Unit, User
from models.record import RecordStatus
from models.report import ReportStatus
from services import pii
from services.accounts import create_account
from services.database import as_dict, find

STAR_THRESHOLDS = (100, 300, 600, 1000, 1500)
PROFILE_FIELDS = ("name", "phone", "political_status", "in_service", "unit_id")


def register_member(openid=None, name=None):
    return create_account(openid=openid, name=name)


def update_profile(user, **changes):
    """Apply a profile change; phone and ID number are validated, the ID number encrypted and unique."""
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
    for field in PROFILE_FIELDS:
        if field in changes:
            setattr(user, field, changes[field])
    if "id_number" in changes:
        set_id_number(user, id_number)
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


def set_unavailability(user, *, weekdays, dates):
    user.unavailable_weekdays = sorted(set(weekdays))
    user.unavailable_dates = sorted({d.isoformat() for d in dates})
    db.session.flush()
    return user


def star_level(hours):
    return sum(1 for threshold in STAR_THRESHOLDS if hours >= threshold)


def profile(user):
    """What ``GET /me`` shows: the user's own fields, its roles and its figures (the three figures in one statement:
    the app opens on it)."""
    hours = select(func.coalesce(func.sum(ServiceRecord.hours), 0)).where(
        ServiceRecord.member_id == user.id, ServiceRecord.status == RecordStatus.APPROVED).scalar_subquery()
    balance = select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(
        PointsEntry.member_id == user.id).scalar_subquery()
    community = select(Report.community_id).where(
        Report.member_id == user.id, Report.kind == "member", Report.status == ReportStatus.APPROVED).scalar_subquery()
    hours, balance, community_id = db.session.execute(select(hours, balance, community)).one()
    hours = Decimal(hours).quantize(Decimal("0.01"))
    return {**as_dict(user), "roles": user.roles, "community_id": community_id,
            "approved_hours": hours, "star_level": star_level(hours), "points": int(balance)}
