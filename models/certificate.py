from sqlalchemy import JSON, Date, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime


class Certificate(db.Model):
    """A volunteer service certificate. Immutable once issued: ``snapshot`` holds what it certifies."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    verify_code: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    period_from = mapped_column(Date, nullable=False)
    period_to = mapped_column(Date, nullable=False)
    total_hours = mapped_column(Numeric(9, 2), nullable=False)
    snapshot: Mapped[dict] = mapped_column(JSON)
    # None when issued from the command line by the operator of the server (``issued_via == "cli"``).
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_via: Mapped[str] = mapped_column(String(8), default="api")
    issued_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
