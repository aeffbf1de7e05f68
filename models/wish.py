from enum import StrEnum, nonmember

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check


class WishStatus(StrEnum):
    """open → claimed (a member, a unit, a team) → fulfilled (the claimer) → completed (community staff); claimed → open
    (the claimer releases it); open or claimed → cancelled (community staff)."""

    OPEN = "open"
    CLAIMED = "claimed"
    FULFILLED = "fulfilled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    CANCELLABLE = nonmember((OPEN, CLAIMED))


class Wish(db.Model):
    """A resident's small wish (微心愿), claimed by one member, one unit or one team."""

    __tablename__ = "wishes"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    beneficiary: Mapped[str | None] = mapped_column(String(200))
    deadline = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=WishStatus.OPEN, index=True)
    claimer_member_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    claimer_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    claimer_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at = mapped_column(UTCDateTime)
    fulfil_note: Mapped[str | None] = mapped_column(Text)
    fulfilled_at = mapped_column(UTCDateTime)
    completed_at = mapped_column(UTCDateTime)
    overdue_notified_at = mapped_column(UTCDateTime)
    cancelled_at = mapped_column(UTCDateTime)
    # The resident's appeal this was made from (POST /appeals/{id}/convert).
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    # The overdue job looks for claimed wishes by deadline.
    __table_args__ = (one_of_check("status", WishStatus), Index("ix_wishes_status_deadline", "status", "deadline"))
