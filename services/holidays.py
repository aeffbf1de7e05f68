"""China's official calendar: statutory holidays (法定节假日) and make-up workdays (调休上班).

A template with ``skip_holidays`` runs on working days only: it skips statutory holidays (and the weekends around
them) and also runs on make-up workdays, even when those fall on a Saturday or Sunday.

Where the calendar comes from, per year: ``HOLIDAY_CALENDAR_FILE`` when it lists the year (the State Council
publishes each year's arrangement in the autumn before, often earlier than a release of the library), else the
``chinese_calendar`` library. For a year neither knows, plain weekdays (Monday to Friday) are working days and a
warning is logged once per year; generation never fails because of the calendar. ``flask calendar YEAR`` shows
which source decides a year.

The file is JSON, one entry per year: ``{"2027": {"holidays": ["2027-01-01", ...], "workdays": ["2027-02-20"]}}``:
``holidays`` are the statutory days off on weekdays and weekends alike, ``workdays`` the make-up workdays.
"""

import json
import logging
from datetime import date
from functools import lru_cache

import chinese_calendar
from chinese_calendar.constants import holidays as library_holidays
from chinese_calendar.constants import workdays as library_workdays

from config import ConfigError

log = logging.getLogger("baodao.holidays")

# The years the library's calendar covers (it refuses dates outside them).
LIBRARY_YEARS = range(min(library_holidays).year, max(max(library_holidays), max(library_workdays)).year + 1)

# Years from HOLIDAY_CALENDAR_FILE: {year: (holidays, make-up workdays)}, each a frozenset of dates.
_file_years = {}
_warned_years = set()


def read_calendar_file(path):
    """The years of a calendar file (format in the module docstring); ConfigError naming the problem otherwise."""
    try:
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"HOLIDAY_CALENDAR_FILE {path} cannot be read: {exc}") from None
    if not isinstance(content, dict):
        raise ConfigError(f"HOLIDAY_CALENDAR_FILE {path}: expected an object of years")
    years = {}
    for key, entry in content.items():
        if not (isinstance(key, str) and key.isdigit() and len(key) == 4) or not isinstance(entry, dict):
            raise ConfigError(f"HOLIDAY_CALENDAR_FILE {path}: {key!r} is not a year with holidays and workdays")
        year = int(key)
        days = {}
        for kind in ("holidays", "workdays"):
            try:
                days[kind] = frozenset(date.fromisoformat(value) for value in entry.get(kind, []))
            except (TypeError, ValueError):
                raise ConfigError(f"HOLIDAY_CALENDAR_FILE {path}: {key}.{kind} must be a list of YYYY-MM-DD dates") \
                    from None
            if any(day.year != year for day in days[kind]):
                raise ConfigError(f"HOLIDAY_CALENDAR_FILE {path}: {key}.{kind} holds a date of another year")
        if days["holidays"] & days["workdays"]:
            raise ConfigError(f"HOLIDAY_CALENDAR_FILE {path}: {key} lists a day as both holiday and workday")
        years[year] = (days["holidays"], days["workdays"])
    return years


def configure(app):
    """Take the years of ``HOLIDAY_CALENDAR_FILE`` (if set); a broken file stops the start with a clear message."""
    path = app.config.get("HOLIDAY_CALENDAR_FILE")
    _file_years.clear()
    _file_years.update(read_calendar_file(path) if path else {})
    is_working_day.cache_clear()


def calendar_of(year):
    """``(source, holidays, make-up workdays)`` for a year; source is "file", "library" or None (unknown)."""
    if year in _file_years:
        return ("file", *_file_years[year])
    if year in LIBRARY_YEARS:
        return ("library", frozenset(d for d in library_holidays if d.year == year),
                frozenset(d for d in library_workdays if d.year == year))
    return None, frozenset(), frozenset()


@lru_cache(maxsize=4096)
def is_working_day(day):
    """True on an official working day: a make-up workday counts, a statutory holiday does not."""
    if day.year in _file_years:
        holidays, workdays = _file_years[day.year]
        return day in workdays or (day not in holidays and day.isoweekday() <= 5)
    if day.year in LIBRARY_YEARS:
        return chinese_calendar.is_workday(day)
    if day.year not in _warned_years:
        _warned_years.add(day.year)
        log.warning("official holiday calendar unknown for %s; using plain weekdays", day.year)
    return day.isoweekday() <= 5


def template_runs_on(day, weekdays, skip_holidays):
    """Whether a weekly template yields a shift on this local date.

    Without ``skip_holidays`` the weekdays decide alone. With it the official calendar decides: a statutory holiday
    is skipped even on a listed weekday, and a make-up workday runs even on a weekend (as the weekday it stands in
    for, so a Monday-to-Friday template runs on it).
    """
    if not skip_holidays:
        return day.isoweekday() in weekdays
    if not is_working_day(day):
        return False
    if day.isoweekday() in weekdays:
        return True
    # A make-up workday on a weekend: runs when the template covers working days at all.
    return day.isoweekday() >= 6 and any(w <= 5 for w in weekdays)
