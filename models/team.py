from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check, partial_index


class TeamStatus(StrEnum):
    """active → dissolved (the owner's staff); a dissolved team takes no joins or sign-ups, its history stays."""

    ACTIVE = "active"
    DISSOLVED = "dissolved"


class JoinPolicy(StrEnum):
    OPEN = "open"
    APPROVAL = "approval"


class MembershipStatus(StrEnum):
    """pending (asked to join a team with the approval policy) → active (approved); a removal deletes the row."""

    PENDING = "pending"
    ACTIVE = "active"


class TeamRole(StrEnum):
    LEADER = "leader"
    MEMBER = "member"


def name_key(name):
    """A team's name as its uniqueness is judged: trimmed, case-insensitive."""
    return name.strip().casefold()


class Team(db.Model):
    """A volunteer service team (志愿服务队) owned by a community or by a unit: exactly one of the two owner columns."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_community_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    name: Mapped[str] = mapped_column(String(100))
    # name_key(name): the unique indexes below judge names by it.
    name_key: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    join_policy: Mapped[str] = mapped_column(String(16), default=JoinPolicy.APPROVAL)
    status: Mapped[str] = mapped_column(String(16), default=TeamStatus.ACTIVE)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    dissolved_at = mapped_column(UTCDateTime)

    __table_args__ = (
        one_of_check("status", TeamStatus),
        one_of_check("join_policy", JoinPolicy),
        CheckConstraint("(owner_community_id is null) != (owner_unit_id is null)", name="one_owner"),
        # Names are unique per owner: one index per kind of owner (a NULL owner column would never collide).
        Index("uq_teams_community_name", "owner_community_id", "name_key", unique=True,
              **partial_index("owner_community_id is not null")),
        Index("uq_teams_unit_name", "owner_unit_id", "name_key", unique=True,
              **partial_index("owner_unit_id is not null")),
    )

    @property
    def owner_type(self):
        return "unit" if self.owner_unit_id is not None else "community"

    @property
    def owner_id(self):
        return self.owner_unit_id if self.owner_unit_id is not None else self.owner_community_id


class TeamMember(db.Model):
    """One member's place in a team: one row per team and member, whatever its status."""

    __tablename__ = "team_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16), default=TeamRole.MEMBER)
    requested_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    joined_at = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        one_of_check("status", MembershipStatus),
        one_of_check("role", TeamRole),
        # Also the index of every lookup of a team's members.
        UniqueConstraint("team_id", "member_id"),
        # Only active members lead.
        CheckConstraint("role = 'member' or status = 'active'", name="leader_is_active"),
    )


class TeamAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DISSOLVED = "dissolved"
    REQUESTED = "requested"
    JOINED = "joined"
    APPROVED = "approved"
    DECLINED = "declined"
    REMOVED = "removed"
    LEFT = "left"
    LEADERS_SET = "leaders_set"


class TeamEvent(db.Model):
    """Append-only history of a team: who did what, to whom, when (memberships themselves are deleted on removal)."""

    __tablename__ = "team_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    action: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    details = mapped_column(JSON)
    at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    # A team's history is read in order, newest first.
    __table_args__ = (one_of_check("action", TeamAction), Index("ix_team_events_team_id_id", "team_id", "id"))
