from enum import StrEnum, nonmember

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check, partial_index, sql_not_in

POST_KINDS = ("bin_station", "gate", "patrol", "other")


class AssignmentStatus(StrEnum):
    """A seat on a shift: assigned → checked_in (first scan) → attended (check-out, or closed by the scheduler);
    assigned → standin_requested (still holds the seat) → replaced once someone accepts; assigned or
    standin_requested → declined; still assigned or standin_requested after the shift → no_show."""

    ASSIGNED = "assigned"
    STANDIN_REQUESTED = "standin_requested"
    CHECKED_IN = "checked_in"
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    DECLINED = "declined"
    REPLACED = "replaced"
    # Holds the seat now, or held it when the shift took place; a member has at most one such per shift.
    HELD = nonmember((ASSIGNED, STANDIN_REQUESTED, CHECKED_IN, ATTENDED, NO_SHOW))
    # Gave the seat up: the member may take a seat on the shift again.
    LEFT = nonmember((DECLINED, REPLACED))
    # Not yet served: the assignee may still decline or ask for a stand-in, and is reminded.
    OPEN = nonmember((ASSIGNED, STANDIN_REQUESTED))
    # Final: the shift was served or missed (the no-show rate's denominator).
    SETTLED = nonmember((ATTENDED, NO_SHOW))
    # May scan in at the post during the shift.
    ON_SHIFT = nonmember((ASSIGNED, STANDIN_REQUESTED, CHECKED_IN, ATTENDED))


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
    # When staff and the pool were told it was still short of seats 48 hours before (set once, conditionally).
    alerted_at = mapped_column(UTCDateTime)

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
    status: Mapped[str] = mapped_column(String(24), default=AssignmentStatus.ASSIGNED)
    source: Mapped[str] = mapped_column(String(16), default="self")
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        one_of_check("status", AssignmentStatus),
        Index("uq_shift_assignments_active", "shift_id", "member_id", unique=True,
              **partial_index(sql_not_in("status", AssignmentStatus.LEFT))),
    )


class SwapStatus(StrEnum):
    """pending → accepted (the seat passed to the other member) | declined (by them) | withdrawn (by the offerer, or
    because the offer could no longer be taken: the seat moved on)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class ShiftSwap(db.Model):
    """A member's offer of their seat on a shift to one other member of the post's pool."""

    __tablename__ = "shift_swaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shifts.id"), index=True)
    from_member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    to_member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=SwapStatus.PENDING)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    decided_at = mapped_column(UTCDateTime)

    __table_args__ = (
        one_of_check("status", SwapStatus),
        # One open offer per seat: a second while one is pending is refused by the database.
        Index("uq_shift_swaps_pending", "shift_id", "from_member_id", unique=True,
              **partial_index("status = 'pending'")),
    )
