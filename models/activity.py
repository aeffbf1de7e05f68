from enum import StrEnum, nonmember

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check, partial_index, sql_not_in

CATEGORIES = ("civility", "order", "culture", "health", "environment", "safety")


class ActivityStatus(StrEnum):
    """published → cancelled (staff); nothing comes back from cancelled."""

    PUBLISHED = "published"
    CANCELLED = "cancelled"


class SignupStatus(StrEnum):
    """confirmed (a seat) or waitlisted → cancelled (the member withdrew); waitlisted → confirmed (promoted)."""

    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    # A member has at most one sign-up per activity in these.
    ACTIVE = nonmember((CONFIRMED, WAITLISTED))


class Activity(db.Model):
    """A one-off service event with a place, a time window and a capacity, organised by its community or, with
    ``unit_id``, by a unit reported there. Sign-ups may be bounded by a window and restricted by eligibility
    criteria (a list of political statuses, a team, a unit), all of which must hold."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(16), index=True)
    starts_at = mapped_column(UTCDateTime, nullable=False, index=True)
    ends_at = mapped_column(UTCDateTime, nullable=False)
    capacity: Mapped[int] = mapped_column(Integer)
    confirmed_count: Mapped[int] = mapped_column(Integer, default=0)
    address: Mapped[str | None] = mapped_column(String(255))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[int | None] = mapped_column(Integer)
    requires_signup: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default=ActivityStatus.PUBLISHED)
    signup_opens_at = mapped_column(UTCDateTime)
    signup_closes_at = mapped_column(UTCDateTime)
    eligible_political_statuses: Mapped[list | None] = mapped_column(JSON)
    eligible_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    eligible_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (one_of_check("status", ActivityStatus),)

    @property
    def location(self):
        return {"address": self.address, "lat": self.lat, "lng": self.lng, "radius_m": self.radius_m}

    @property
    def eligibility(self):
        """The criteria as the API shows them, or None when anyone may sign up."""
        criteria = {"political_status": self.eligible_political_statuses, "team_id": self.eligible_team_id,
                    "unit_id": self.eligible_unit_id}
        criteria = {key: value for key, value in criteria.items() if value is not None}
        return criteria or None


class ScreenLink(db.Model):
    """A link to the organiser's check-in screen: valid until the activity ends, unless revoked, and only while the
    staff account that made it is active (services/screen.py)."""

    __tablename__ = "screen_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    revoked_at = mapped_column(UTCDateTime)


class Signup(db.Model):
    __tablename__ = "signups"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    # The team whose leader signed the member up (POST /activities/{id}/team-signups); None for one's own.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    cancelled_at = mapped_column(UTCDateTime)

    __table_args__ = (
        one_of_check("status", SignupStatus),
        Index("uq_signups_active", "activity_id", "member_id", unique=True,
              **partial_index(sql_not_in("status", (SignupStatus.CANCELLED,)))),
    )
