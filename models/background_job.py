from enum import StrEnum, nonmember

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check, partial_index, sql_in

JOB_KINDS = ("certificate_batch", "service_record_export")


class JobStatus(StrEnum):
    """queued → running (claimed by one worker, its heartbeat kept) → done | failed; running with a heartbeat older
    than five minutes → running again (another worker resumes it), or failed after three tries."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    # A worker may take it: waiting, or running on a worker that stopped answering.
    CLAIMABLE = nonmember((QUEUED, RUNNING))


class BackgroundJob(db.Model):
    """A big export or certificate batch run outside any request, with its progress and, once done, its file."""

    __tablename__ = "background_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    arguments: Mapped[dict] = mapped_column(JSON)
    total: Mapped[int | None] = mapped_column(Integer)
    done_count: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(500))
    file_key: Mapped[str | None] = mapped_column(String(128))
    filename: Mapped[str | None] = mapped_column(String(200))
    mimetype: Mapped[str | None] = mapped_column(String(100))
    heartbeat_at = mapped_column(UTCDateTime)
    started_at = mapped_column(UTCDateTime)
    finished_at = mapped_column(UTCDateTime)
    file_deleted_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        one_of_check("status", JobStatus),
        one_of_check("kind", JOB_KINDS),
        # Workers look for what they may take: a short list, read from its own index however many jobs ran.
        Index("ix_background_jobs_claimable", "id", **partial_index(sql_in("status", JobStatus.CLAIMABLE))),
    )
