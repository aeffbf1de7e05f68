from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime

RESOURCE_KINDS = ("venue", "people", "service", "funds")
RESOURCE_OWNER_TYPES = ("community", "unit")


class ResourceStatus(StrEnum):
    AVAILABLE = "available"


class Resource(db.Model):
    """A venue, people, a service or funds that a community or a unit offers (资源清单)."""

    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int]
    # The community the resource serves in, so that scope is one indexed column.
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=ResourceStatus.AVAILABLE)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
