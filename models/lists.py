"""The three lists (三个清单): needs, resources, and projects that match them."""

from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.types import UTCDateTime
from services.clock import utcnow

NEED_SOURCES = ("survey", "hotline", "visit", "meeting", "online")
RESOURCE_KINDS = ("venue", "people", "service", "funds")
PROJECT_STATUSES = ("proposed", "approved", "in_progress", "done")
NEED_STATUSES = ("open", "matched", "met")
RESOURCE_OWNER_TYPES = ("community", "unit")

project_needs = Table(
    "project_needs", db.metadata,
    Column("project_id", ForeignKey("projects.id"), primary_key=True),
    Column("need_id", ForeignKey("needs.id"), primary_key=True),
)
project_resources = Table(
    "project_resources", db.metadata,
    Column("project_id", ForeignKey("projects.id"), primary_key=True),
    Column("resource_id", ForeignKey("resources.id"), primary_key=True),
)


class Need(db.Model):
    __tablename__ = "needs"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Resource(db.Model):
    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int]
    # The community the resource serves in, so that scope is one indexed column.
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="available")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Project(db.Model):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at = mapped_column(UTCDateTime)
    approved_at = mapped_column(UTCDateTime)
    started_at = mapped_column(UTCDateTime)
    finished_at = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    needs = relationship("Need", secondary=project_needs, lazy="selectin")
    resources = relationship("Resource", secondary=project_resources, lazy="selectin")
