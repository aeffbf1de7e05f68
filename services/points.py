"""The points ledger (积分): the balance is the sum of the entries; every entry has a unique ``ref``."""

from decimal import ROUND_DOWN, Decimal

from sqlalchemy import func, select

from clock import utcnow
from extensions import db
from models import PointsEntry
from services.database import insert_ignoring_conflicts, insert_rows_ignoring_conflicts

POINTS_PER_HOUR = 10
POINTS_PER_COMPLETED_WISH = 20


def points_for_hours(hours):
    return int((Decimal(hours) * POINTS_PER_HOUR).to_integral_value(rounding=ROUND_DOWN))


def credit(member_id, delta, reason, ref):
    """Write one entry unless ``ref`` was already credited; returns whether it was written."""
    if delta == 0:
        return False
    # RETURNING rather than rowcount: an ORM insert through psycopg 3 reports rowcount -1.
    written = db.session.execute(
        insert_ignoring_conflicts(PointsEntry)
        .values(member_id=member_id, delta=delta, reason=reason, ref=ref, at=utcnow())
        .returning(PointsEntry.id)).scalar_one_or_none()
    return written is not None


def credit_many(entries):
    """Many entries ``(member_id, delta, reason, ref)`` in one statement; refs already credited are skipped."""
    now = utcnow()
    insert_rows_ignoring_conflicts(PointsEntry, [
        {"member_id": member_id, "delta": delta, "reason": reason, "ref": ref, "at": now}
        for member_id, delta, reason, ref in entries if delta])


def credited_for(prefix):
    """The sum already credited under refs starting with ``prefix`` (e.g. every entry of one record)."""
    return int(db.session.scalar(
        select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(PointsEntry.ref.startswith(prefix))))


def settle_record(record, ref):
    """Bring a service record's points to what its approved hours are worth, with one compensating entry."""
    target = points_for_hours(record.hours) if record.status == "approved" else 0
    delta = target - credited_for(f"record:{record.id}:")
    return credit(record.member_id, delta, "service_hours", f"record:{record.id}:{ref}")


def ledger(member_id):
    return select(PointsEntry).where(PointsEntry.member_id == member_id).order_by(
        PointsEntry.at.desc(), PointsEntry.id.desc())


def balance(member_id):
    return int(db.session.scalar(
        select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(PointsEntry.member_id == member_id)))
