from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.types import UTCDateTime
from services.clock import utcnow

POST_KINDS = ("bin_station", "gate", "patrol", "other")
ASSIGNMENT_STATUSES = ("assigned", "standin_requested", "checked_in", "attended", "no_show", "declined", "replaced")


class Post(db.Model):
    """A standing duty place (岗位) such as a garbage-sorting bin station."""

    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(255))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    @property
    def location(self):
        return {"address": self.address, "lat": self.lat, "lng": self.lng, "radius_m": self.radius_m}


class ShiftTemplate(db.Model):
    """A weekly slot: on these weekdays (1 = Monday), from local start to local end (may pass midnight)."""

    __tablename__ = "shift_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    weekdays: Mapped[list] = mapped_column(JSON)
    start: Mapped[str] = mapped_column(String(5))
    end: Mapped[str] = mapped_column(String(5))
    seats: Mapped[int] = mapped_column(Integer)
    skip_holidays: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class PoolMembership(db.Model):
    """A member who volunteered for a post's roster pool."""

    __tablename__ = "pool_memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    joined_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (UniqueConstraint("post_id", "member_id"),)


class Shift(db.Model):
    __tablename__ = "shifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("shift_templates.id"))
    starts_at = mapped_column(UTCDateTime, nullable=False, index=True)
    ends_at = mapped_column(UTCDateTime, nullable=False)
    seats: Mapped[int] = mapped_column(Integer)
    filled: Mapped[int] = mapped_column(Integer, default=0)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        # Generating twice, or from two processes, never duplicates a shift; it also serves lookups by template.
        UniqueConstraint("template_id", "starts_at"),
        # A scan at a post finds the post's shift on now: the post's shifts not yet ended, a fortnight's at most.
        # No index on ends_at alone: with statistics older than the roster, PostgreSQL chose it and read the
        # coming shifts of every post.
        Index("ix_shifts_post_ends", "post_id", "ends_at"),
    )


class ShiftAssignment(db.Model):
    __tablename__ = "shift_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(24), default="assigned")
    source: Mapped[str] = mapped_column(String(16), default="self")
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        Index("uq_shift_assignments_active", "shift_id", "member_id", unique=True,
              postgresql_where=text("status not in ('declined', 'replaced')"),
              sqlite_where=text("status not in ('declined', 'replaced')")),
    )
