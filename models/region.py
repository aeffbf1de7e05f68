from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime

REGION_KINDS = ("district", "street", "community")
UNIT_KINDS = ("government", "enterprise", "institution", "school", "hospital", "social_org")


class Region(db.Model):
    """A district, street or community. ``path`` (``/1/7/42/``) makes containment one indexed prefix match."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), default="", index=True)
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(30))
    address: Mapped[str | None] = mapped_column(String(255))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (CheckConstraint("kind in ('district', 'street', 'community')", name="kind"),)


class Unit(db.Model):
    """A work unit with a party organisation, sitting in one community."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (Index("ix_units_name", "name"),)
