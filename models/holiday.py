from sqlalchemy import JSON, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from clock import utcnow
from extensions import db
from models.types import UTCDateTime


class OfficialCalendar(db.Model):
    """The State Council's holiday arrangement of one year as a sysadmin entered it (``PUT /calendar/{year}``):
    statutory days off (法定节假日, on weekdays and weekends alike) and make-up workdays (调休上班), each a sorted
    list of ISO dates of that year. It wins over HOLIDAY_CALENDAR_FILE and the chinese_calendar package."""

    __tablename__ = "official_calendars"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holidays: Mapped[list] = mapped_column(JSON)
    workdays: Mapped[list] = mapped_column(JSON)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
