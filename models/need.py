from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check

NEED_SOURCES = ("survey", "hotline", "visit", "meeting", "online")


class NeedStatus(StrEnum):
    """open → matched (a project listing it was approved) → met (that project is done)."""

    OPEN = "open"
    MATCHED = "matched"
    MET = "met"


class Need(db.Model):
    """A resident need on the community's need list (需求清单)."""

    __tablename__ = "needs"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=NeedStatus.OPEN)
    # The resident's appeal this was made from (POST /appeals/{id}/convert).
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (one_of_check("status", NeedStatus),)
