"""China's official calendar: statutory holidays (法定节假日) and make-up workdays (调休上班).

A template with ``skip_holidays`` runs on working days only: it skips statutory holidays (and the weekends around
them) and also runs on make-up workdays, even when those fall on a Saturday or Sunday.

Where the calendar comes from, per year, first source first:

1. the database: the arrangement a sysadmin entered with ``PUT /calendar/{year}`` (the State Council publishes each
   year's in the autumn before, long before a release of the library knows it); ``DELETE`` returns the year to
2. ``HOLIDAY_CALENDAR_FILE`` when it lists the year, else
3. the ``chinese_calendar`` library.

For a year none knows, plain weekdays (Monday to Friday) are working days and a warning is logged once per year and
process; generation never fails because of the calendar. ``flask calendar YEAR`` shows which source decides a year.

The file and the library are read once per process (the file at start). The database is read per unit of work, never
kept longer: a sysadmin's entry must reach every web and scheduler process at once. A ``Calendar`` reads each year it
is asked about once, so a roster generation run reads the database once however many days and templates it covers.

The file is JSON, one entry per year: ``{"2027": {"holidays": ["2027-01-01", ...], "workdays": ["2027-02-20"]}}``:
``holidays`` are the statutory days off on weekdays and weekends alike, ``workdays`` the make-up workdays.
"""

import json
import logging
from datetime import date
from typing import NamedTuple

from chinese_calendar.constants import holidays as library_holidays
from chinese_calendar.constants import workdays as library_workdays
from sqlalchemy import select

from config import ConfigError
from extensions import db
from models import OfficialCalendar

log = logging.getLogger("baodao.holidays")


class Arrangement(NamedTuple):
    """One year's official calendar. ``source``: "database", "file", "package", or None (no source knows the year:
    both sets are empty, so plain weekdays are the working days)."""

    source: str | None
    holidays: frozenset
    workdays: frozenset

    def is_working_day(self, day):
        """A make-up workday is one, a statutory holiday is not; otherwise Monday to Friday."""
        return day in self.workdays or (day not in self.holidays and day.isoweekday() <= 5)


UNKNOWN = Arrangement(None, frozenset(), frozenset())


def _library_years():
    years = {}
    for kind, days in (("holidays", library_holidays), ("workdays", library_workdays)):
        for day in days:
            years.setdefault(day.year, {"holidays": set(), "workdays": set()})[kind].add(day)
    return {year: Arrangement("package", frozenset(days["holidays"]), frozenset(days["workdays"]))
            for year, days in years.items()}


# The library's years: fixed for the life of the process.
_package_years = _library_years()
# Years from HOLIDAY_CALENDAR_FILE, read at start (configure).
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
    _file_years.update({year: Arrangement("file", *days)
                        for year, days in (read_calendar_file(path) if path else {}).items()})


def in_file(year):
    """Whether HOLIDAY_CALENDAR_FILE lists the year (a database entry may hide it)."""
    return year in _file_years


def _entered(row):
    return Arrangement("database", frozenset(map(date.fromisoformat, row.holidays)),
                       frozenset(map(date.fromisoformat, row.workdays)))


def _covers(day, weekdays):
    """Whether a ``skip_holidays`` template runs on this day if it is a working day: on its own weekdays, and on a
    weekend make-up workday (as the weekday it stands in for) when it covers working days at all."""
    return day.isoweekday() in weekdays or (day.isoweekday() >= 6 and any(w <= 5 for w in weekdays))


class Calendar:
    """The official calendar as one unit of work sees it: each year is looked up once, on first use or by ``load``,
    and kept for the life of this object only (never across requests: see the module docstring)."""

    def __init__(self):
        self._years = {}

    def load(self, years):
        """Look up these years at once (one query for those the database may hold); returns the calendar."""
        missing = [year for year in dict.fromkeys(years) if year not in self._years]
        if not missing:
            return self
        entered = db.session.scalars(select(OfficialCalendar).where(OfficialCalendar.year.in_(missing)))
        self._years.update({row.year: _entered(row) for row in entered})
        for year in missing:
            if year not in self._years:
                self._years[year] = _file_years.get(year) or _package_years.get(year) or UNKNOWN
        return self

    def arrangement(self, year):
        """The year's arrangement from the first source that knows it (UNKNOWN when none does)."""
        # Asked for every day of every template in a generation run: the year is almost always known already.
        if year not in self._years:
            self.load([year])
        return self._years[year]

    def is_working_day(self, day):
        """True on an official working day: a make-up workday counts, a statutory holiday does not."""
        arrangement = self.arrangement(day.year)
        if arrangement.source is None and day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("official holiday calendar unknown for %s; using plain weekdays", day.year)
        return arrangement.is_working_day(day)

    def template_runs_on(self, day, weekdays, skip_holidays):
        """Whether a weekly template yields a shift on this local date.

        Without ``skip_holidays`` the weekdays decide alone. With it the official calendar decides: a statutory
        holiday is skipped even on a listed weekday, and a make-up workday runs even on a weekend (as the weekday it
        stands in for, so a Monday-to-Friday template runs on it).
        """
        if not skip_holidays:
            return day.isoweekday() in weekdays
        return self.is_working_day(day) and _covers(day, weekdays)

    def closes(self, day, weekdays):
        """Whether the official calendar alone keeps a ``skip_holidays`` template from running on this day: it
        would run on it as a working day, but the day is not one (a new holiday, or a make-up workday withdrawn)."""
        return _covers(day, weekdays) and not self.is_working_day(day)


def calendar_of(year):
    """The arrangement that decides a year, as this unit of work sees it."""
    return Calendar().arrangement(year)

