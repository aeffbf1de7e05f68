from enum import StrEnum, nonmember

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check, partial_index, sql_in


class UploadReview(StrEnum):
    """pending (WeChat's media check not back yet) → passed | review (staff decide) | rejected (removed
    everywhere, its file deleted); review → passed | rejected."""

    PENDING = "pending"
    PASSED = "passed"
    REVIEW = "review"
    REJECTED = "rejected"
    # Shown only to the uploader and the community's own staff.
    HELD = nonmember((PENDING, REVIEW))


class Upload(db.Model):
    """A photo, decoded and re-encoded on upload (no EXIF), stored under ``storage_key`` (a random name) in the
    configured storage. Attached to at most one appeal; unattached ones are deleted after a day."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"), index=True)
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    review: Mapped[str] = mapped_column(String(16), default=UploadReview.PENDING)
    trace_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    check_attempts: Mapped[int] = mapped_column(Integer, default=0)
    check_sent_at = mapped_column(UTCDateTime)
    attached_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (
        one_of_check("review", UploadReview),
        # The daily clean-up reads only photos attached to nothing, the re-check only those WeChat still owes.
        Index("ix_uploads_unattached_created", "created_at", **partial_index("appeal_id IS NULL")),
        Index("ix_uploads_pending_check", "check_sent_at",
              **partial_index(sql_in("review", (UploadReview.PENDING,)))),
    )
