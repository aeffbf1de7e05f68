"""The one source of "now", and conversions between UTC and the deployment's local time."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

# The window of every date and time baodao takes: volunteer service records start well after 2000, and the bounds keep
# date arithmetic and the local-time conversion far from their limits.
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def utcnow():
    return datetime.now(UTC)


def local_zone():
    name = current_app.config["TIMEZONE"] if has_app_context() else "Asia/Shanghai"
    return ZoneInfo(name)


def to_local(value):
    return value.astimezone(local_zone()) if value is not None else None


def as_utc(value):
    """A request time without an offset is local time in TIMEZONE."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=local_zone())
    return value.astimezone(UTC)


def local_today():
    return utcnow().astimezone(local_zone()).date()


def local_day_start(day):
    """The UTC instant at which a local calendar day begins."""
    return datetime.combine(day, datetime.min.time(), tzinfo=local_zone()).astimezone(UTC)


def local_days_bounds(date_from, date_to):
    """Local dates ``date_from`` .. ``date_to`` (inclusive) as UTC instants [start, end); either may be None."""
    start = local_day_start(date_from) if date_from is not None else None
    end = local_day_start(date_to + timedelta(days=1)) if date_to is not None else None
    return start, end


def local_year_bounds(year):
    """The UTC instants at which a local calendar year begins and ends."""
    return local_days_bounds(date(year, 1, 1), date(year, 12, 31))


def within_local_days(column, date_from, date_to):
    """SQL conditions: the instant in ``column`` falls on local dates ``date_from`` .. ``date_to`` (inclusive);
    either may be None (unbounded)."""
    start, end = local_days_bounds(date_from, date_to)
    return ([column >= start] if start is not None else []) + ([column < end] if end is not None else [])


def parse_clock(value):
    """A local time of day written ``HH:MM`` (00:00 to 23:59), or None when it is not one."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        return None
    hours, minutes = value[:2], value[3:]
    if not (hours.isascii() and hours.isdigit() and minutes.isascii() and minutes.isdigit()):
        return None
    if int(hours) > 23 or int(minutes) > 59:
        return None
    return time(int(hours), int(minutes))
