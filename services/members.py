"""Members: registration, profile, personal data and the figures on ``GET /me``."""

from decimal import Decimal

from sqlalchemy import func, select

from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from models import Report, ServiceRecord, Unit, User
from services import pii, points
from services.database import find

STAR_THRESHOLDS = (100, 300, 600, 1000, 1500)


def register_member(openid=None, name=None):
    user = User(openid=openid, name=name, political_status="masses", in_service=False,
                unavailable_weekdays=[], unavailable_dates=[])
    db.session.add(user)
    db.session.flush()
    user.volunteer_number = volunteer_number_for(user.id)
    return user


def volunteer_number_for(user_id):
    """A stable public number (BD + 9 digits + a Luhn check digit) that stands in for the ID number."""
    digits = f"{user_id:09d}"
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return f"BD{digits}{(10 - total % 10) % 10}"


def update_profile(user, changes):
    """Apply a profile change; phone and ID number are validated, the ID number encrypted and unique."""
    errors = {}
    if "phone" in changes and changes["phone"] is not None and not pii.is_valid_phone(changes["phone"]):
        errors["phone"] = ["请输入 11 位大陆手机号"]
    id_number = changes.get("id_number")
    if id_number is not None and not pii.is_valid_id_number(id_number):
        errors["id_number"] = ["身份证号码无效（18 位，校验位需正确）"]
    if changes.get("unit_id") is not None and find(Unit, changes["unit_id"]) is None:
        errors["unit_id"] = ["单位不存在"]
    if errors:
        raise ValidationFailed(errors)

    for field in ("name", "phone", "political_status", "in_service", "unit_id"):
        if field in changes:
            setattr(user, field, changes[field])
    if "id_number" in changes:
        set_id_number(user, id_number)
    db.session.commit()
    return user


def set_id_number(user, id_number):
    if id_number is None:
        user.id_number_encrypted = user.id_number_hash = user.id_number_masked = None
        return
    id_number = id_number.upper()
    lookup = pii.lookup_hash(id_number)
    holder = db.session.scalar(select(User.id).where(User.id_number_hash == lookup))
    if holder is not None and holder != user.id:
        raise Conflict("id_number_taken", "该身份证号码已被其他成员使用")
    user.id_number_encrypted = pii.encrypt(id_number)
    user.id_number_hash = lookup
    user.id_number_masked = pii.mask_id_number(id_number)


def set_unavailability(user, weekdays, dates):
    user.unavailable_weekdays = sorted(set(weekdays))
    user.unavailable_dates = sorted({d.isoformat() for d in dates})
    db.session.commit()
    return user


def get_member(member_id):
    user = find(User, member_id)
    if user is None:
        raise NotFound("member_not_found", "成员不存在")
    return user


def approved_hours(member_id, start=None, end=None):
    query = select(func.coalesce(func.sum(ServiceRecord.hours), 0)).where(
        ServiceRecord.member_id == member_id, ServiceRecord.status == "approved")
    if start is not None:
        query = query.where(ServiceRecord.started_at >= start)
    if end is not None:
        query = query.where(ServiceRecord.started_at < end)
    return Decimal(db.session.scalar(query)).quantize(Decimal("0.01"))


def star_level(hours):
    return sum(1 for threshold in STAR_THRESHOLDS if hours >= threshold)


def reported_community_id(member_id):
    return db.session.scalar(select(Report.community_id).where(
        Report.member_id == member_id, Report.kind == "member", Report.status == "approved"))


class Profile:
    """What ``GET /me`` shows: the user's own fields and its figures."""

    def __init__(self, user):
        self.user = user
        self.community_id = reported_community_id(user.id)
        self.approved_hours = approved_hours(user.id)
        self.star_level = star_level(self.approved_hours)
        self.points = points.balance(user.id)

    def __getattr__(self, name):
        return getattr(self.user, name)
