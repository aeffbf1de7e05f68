from enum import StrEnum

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check

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


class ProjectStatus(StrEnum):
    """proposed → approved → in_progress → done, one step at a time (community staff)."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class Project(db.Model):
    """A project of the community's project list (项目清单): needs of the community met with its resources."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=ProjectStatus.PROPOSED)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at = mapped_column(UTCDateTime)
    approved_at = mapped_column(UTCDateTime)
    started_at = mapped_column(UTCDateTime)
    finished_at = mapped_column(UTCDateTime)
    # The resident's appeal this was made from (POST /appeals/{id}/convert).
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"), index=True)
    # The meeting decision that chose it, if its approval cites one (POST /projects/{id}/approve).
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_decisions.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    needs = relationship("Need", secondary=project_needs, lazy="selectin")
    resources = relationship("Resource", secondary=project_resources, lazy="selectin")

    __table_args__ = (one_of_check("status", ProjectStatus),)

    @property
    def need_ids(self):
        return [need.id for need in self.needs]

    @property
    def resource_ids(self):
        return [resource.id for resource in self.resources]
