from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.types import UTCDateTime
from services.clock import utcnow

REPORT_KINDS = ("member", "unit")
REPORT_STATUSES = ("pending", "approved", "rejected", "withdrawn")
ACTIVE_REPORT = text("status in ('pending', 'approved')")


class Report(db.Model):
    """A member's or a unit's report (报到) to a community. Rows are never deleted: history is kept."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="pending")
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
        # One pending or approved member report per member, one per unit: enforced by the database.
        Index("uq_reports_active_member", "member_id", unique=True,
              postgresql_where=text("kind = 'member' and status in ('pending', 'approved')"),
              sqlite_where=text("kind = 'member' and status in ('pending', 'approved')")),
        Index("uq_reports_active_unit", "unit_id", unique=True,
              postgresql_where=text("kind = 'unit' and status in ('pending', 'approved')"),
              sqlite_where=text("kind = 'unit' and status in ('pending', 'approved')")),
    )


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
