from enum import StrEnum, nonmember

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check, partial_index, sql_in


class RecordStatus(StrEnum):
    """pending → approved | rejected (staff covering the community, never on their own hours)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    # Hours may still be corrected (a rejected record is final).
    CORRECTABLE = nonmember((PENDING, APPROVED))


class RecordSource(StrEnum):
    CHECKIN = "checkin"
    AUTO_CLOSED = "auto_closed"
    MANUAL = "manual"


class CorrectionStatus(StrEnum):
    """pending → accepted (applied as a correction) | declined."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class ServiceRecord(db.Model):
    """Hours of service credited to a member, from an attendance or entered by staff."""

    __tablename__ = "service_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    community_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id"), index=True)
    shift_id: Mapped[int | None] = mapped_column(ForeignKey("shifts.id"), index=True)
    attendance_id: Mapped[int | None] = mapped_column(ForeignKey("attendances.id"), unique=True)
    # The team of the attendance it follows (a team sign-up's); a team's figures sum these.
    # Indexed by ix_service_records_team_status_started below (only the records that carry one).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    category: Mapped[str | None] = mapped_column(String(16))
    started_at = mapped_column(UTCDateTime, nullable=False)
    ended_at = mapped_column(UTCDateTime, nullable=False)
    hours = mapped_column(Numeric(7, 2), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=RecordStatus.PENDING)
    source: Mapped[str] = mapped_column(String(16), default=RecordSource.MANUAL)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        one_of_check("status", RecordStatus),
        one_of_check("source", RecordSource),
        Index("ix_service_records_member_status_started", "member_id", "status", "started_at"),
        # Covering, so a street's or community's yearly statistics read only the index.
        Index("ix_service_records_community_status_started_covering", "community_id", "status", "started_at",
              postgresql_include=["member_id", "hours"]),
        # The export's order: any set of communities streams from it with no sort (services/exports.py).
        Index("ix_service_records_community_started_id", "community_id", "started_at", "id"),
        # The staff list's order (newest first) across many communities: a street's or district's first page
        # reads the newest entries and stops, instead of sorting every record in its scope.
        Index("ix_service_records_started_id", "started_at", "id"),
        # Covering and only over records carrying a team: a team's hours of the year (its page, its members, its
        # figures) read the index, not one scattered heap page per record.
        Index("ix_service_records_team_status_started", "team_id", "status", "started_at",
              postgresql_include=["member_id", "hours"], **partial_index("team_id is not null")),
    )


class RecordChange(db.Model):
    """Append-only history of a service record: who, when, before, after and why."""

    __tablename__ = "record_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("service_records.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(24))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(500))
    at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class CorrectionRequest(db.Model):
    __tablename__ = "correction_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("service_records.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    hours = mapped_column(Numeric(7, 2), nullable=False)
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default=CorrectionStatus.PENDING)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at = mapped_column(UTCDateTime)
    decline_reason: Mapped[str | None] = mapped_column(String(500))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        one_of_check("status", CorrectionStatus),
        # One open request per record: staff answer it before the member asks again.
        Index("uq_correction_requests_pending", "record_id", unique=True,
              **partial_index(sql_in("status", (CorrectionStatus.PENDING,)))),
    )
