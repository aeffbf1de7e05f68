from enum import StrEnum, nonmember

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, and_
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check, partial_index, sql_in

REPORT_KINDS = ("member", "unit")


class ReportStatus(StrEnum):
    """pending → approved | rejected (community staff); pending | approved → withdrawn (the reporter)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    # A member (or a unit) has at most one report in these.
    ACTIVE = nonmember((PENDING, APPROVED))


class Report(db.Model):
    """A member's or a unit's report (报到) to a community. Rows are never deleted: history is kept."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=ReportStatus.PENDING)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        CheckConstraint("kind in ('member', 'unit')", name="kind"),
        one_of_check("status", ReportStatus),
        # One pending or approved member report per member, one per unit: enforced by the database.
        Index("uq_reports_active_member", "member_id", unique=True,
              **partial_index(f"kind = 'member' and {sql_in('status', ReportStatus.ACTIVE)}")),
        Index("uq_reports_active_unit", "unit_id", unique=True,
              **partial_index(f"kind = 'unit' and {sql_in('status', ReportStatus.ACTIVE)}")),
    )


def approved_unit_report(unit_id):
    """SQL: the unit's approved unit report, one at most (the index above). A unit stands in that report's community,
    else in the community where it sits (``units.community_id``): its teams count there."""
    return and_(Report.kind == "unit", Report.unit_id == unit_id, Report.status == ReportStatus.APPROVED)


class Feedback(db.Model):
    """The community's yearly word on a reported member or unit (双向反馈), read by the unit."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    year: Mapped[int] = mapped_column(Integer)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    # One word per report and year; the unique index also serves every lookup by report.
    __table_args__ = (UniqueConstraint("report_id", "year"),)
