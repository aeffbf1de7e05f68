from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.types import UTCDateTime


class SharedValue(db.Model):
    """A small value shared by every process (e.g. the WeChat access token) when no Redis is configured."""

    __tablename__ = "shared_values"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at = mapped_column(UTCDateTime)
