from enum import StrEnum

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime, one_of_check


class Notification(db.Model):
    """Something that happened to a member, shown in ``GET /me/notifications``. ``key`` deduplicates."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(128), unique=True)
    read_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (Index("ix_notifications_member_created", "member_id", "created_at"),)


class OutboundStatus(StrEnum):
    """pending → sending (claimed by one sender) → sent | failed, or back to pending to be retried."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class OutboundMessage(db.Model):
    """A WeChat subscribe message waiting to be sent; retried until sent, never sent twice (``key``)."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=OutboundStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # The member's subscription grant this message spends, taken once with its first claim (a retry reuses it).
    grant_taken: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)
    sent_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (one_of_check("status", OutboundStatus),)


class SubscriptionGrant(db.Model):
    """How many one-time subscribe messages of a template a member accepted and has not yet been sent."""

    __tablename__ = "subscription_grants"

    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    grants_left: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    __table_args__ = (CheckConstraint("grants_left >= 0", name="grants_left"),)


class WxaCode(db.Model):
    """A mini-program code WeChat made for a check-in token, kept in storage: asked for once per token."""

    __tablename__ = "wxa_codes"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(80), nullable=False)
    # When the token stops being accepted (an activity's); None for a post's, kept for good.
    expires_at = mapped_column(UTCDateTime, index=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
