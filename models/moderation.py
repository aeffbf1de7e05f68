from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check


class ModerationStatus(StrEnum):
    """review → approved | rejected (community staff)."""

    REVIEW = "review"
    APPROVED = "approved"
    REJECTED = "rejected"


class ModerationItem(db.Model):
    """Text or a photo a member wrote that WeChat's content security could not clear (``review``, or WeChat
    unreachable): shown to the author and staff, hidden from other members until community staff decide. Rejected
    text is erased from its object."""

    __tablename__ = "moderation_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text)
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default=ModerationStatus.REVIEW)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        one_of_check("status", ModerationStatus),
        Index("ix_moderation_items_community_status", "community_id", "status", "id"),
        Index("ix_moderation_items_object", "object_type", "object_id"),
    )
