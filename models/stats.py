from sqlalchemy import JSON, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.types import UTCDateTime


class StatsSnapshot(db.Model):
    """The last computed statistics overview of a region for a year, served while it is young enough."""

    __tablename__ = "stats_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    year: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict] = mapped_column(JSON)
    computed_at = mapped_column(UTCDateTime, nullable=False)

    # One snapshot per region and year: concurrent refreshes upsert on it (ON CONFLICT DO UPDATE).
    __table_args__ = (UniqueConstraint("region_id", "year"),)
