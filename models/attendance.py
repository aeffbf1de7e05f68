from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.types import UTCDateTime, partial_index

# An attendance is open from its check-in until its check-out; a member has at most one open per place.
OPEN_AT_ACTIVITY = "checked_out_at is null and activity_id is not null"
OPEN_AT_SHIFT = "checked_out_at is null and shift_id is not null"


class Attendance(db.Model):
    """One check-in and check-out at an activity or a shift."""

    __tablename__ = "attendances"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"), index=True)
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("shifts.id"), index=True)
    # The team of the sign-up it follows, if the member was signed up through a team.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    checked_in_at = mapped_column(UTCDateTime, nullable=False)
    checked_out_at = mapped_column(UTCDateTime)
    minutes: Mapped[int | None] = mapped_column(Integer)
    check_in_lat: Mapped[float | None] = mapped_column(Float)
    check_in_lng: Mapped[float | None] = mapped_column(Float)
    # Closed by the scheduler at the scheduled end, not by the member: staff must review it.
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        # A scan looks up the member's attendances at one activity. Both columns in one index: with an index on each,
        # PostgreSQL may intersect them, and the activity's side grows with every check-in of a big event.
        Index("ix_attendances_member_activity", "member_id", "activity_id"),
        Index("uq_attendances_open_activity", "member_id", "activity_id", unique=True,
              **partial_index(OPEN_AT_ACTIVITY)),
        Index("uq_attendances_open_shift", "member_id", "shift_id", unique=True, **partial_index(OPEN_AT_SHIFT)),
    )
