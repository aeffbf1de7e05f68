from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime


class PointsEntry(db.Model):
    """One line of the points ledger (积分). ``ref`` is unique: no event is ever credited twice."""

    __tablename__ = "points_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    # A member's entries by time: the ledger, newest first, and a year's sum read only that year's entries.
    __table_args__ = (Index("ix_points_entries_member_id_at", "member_id", "at"),)
