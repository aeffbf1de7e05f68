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

from clock import EARLIEST, LATEST, utcnow
from config import ConfigError
from errors import NotFound, ValidationFailed
from extensions import db
from models import OfficialCalendar
from services.authz import require_sysadmin
from services.database import add_unique

log = logging.getLogger("baodao.holidays")

# The years a calendar may be asked about or entered for.
YEARS = range(EARLIEST.year, LATEST.year + 1)


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
        is_year = isinstance(key, str) and key.isascii() and key.isdigit() and len(key) == 4
        if not is_year or not isinstance(entry, dict):
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


# The API: GET, PUT and DELETE /calendar/{year}.

SOURCE_NAMES = {"database": "official", "file": "official", "package": "package", None: "none"}


def _year_out_of_range(year):
    if year not in YEARS:
        raise NotFound("year_out_of_range", f"只支持 {YEARS.start}–{YEARS.stop - 1} 年的节假日安排")


def presentation(year, arrangement):
    """``{"year", "source": "official"|"package"|"none", "holidays", "workdays"}``, the dates sorted."""
    return {"year": year, "source": SOURCE_NAMES[arrangement.source], "holidays": sorted(arrangement.holidays),
            "workdays": sorted(arrangement.workdays)}


def get_calendar(year):
    """The official calendar that decides a year's rosters (any signed-in user); a year outside 2000–2100 → 404."""
    _year_out_of_range(year)
    return presentation(year, calendar_of(year))


def _check_days(year, holidays, workdays):
    errors = {}
    for field, days in (("holidays", holidays), ("workdays", workdays)):
        others = sorted({day for day in days if day.year != year})
        if others:
            errors[field] = [f"日期不在 {year} 年内：{', '.join(d.isoformat() for d in others)}"]
    both = sorted(set(holidays) & set(workdays))
    if both:
        message = f"同一天不能既是节假日又是调休上班日：{', '.join(d.isoformat() for d in both)}"
        for field in ("holidays", "workdays"):
            errors.setdefault(field, []).append(message)
    if errors:
        raise ValidationFailed(errors)


def set_calendar(actor, year, *, holidays, workdays):
    """Enter the State Council's arrangement of a year (sysadmin): it replaces any entered before and wins over
    HOLIDAY_CALENDAR_FILE and the package from the next roster generation on. Every date lies in ``year`` and no
    date is both a holiday and a make-up workday (422 on the field); the year lies in 2000–2100 (404)."""
    require_sysadmin(actor)
    _check_days(year, holidays, workdays)
    _year_out_of_range(year)
    values = {"holidays": sorted({d.isoformat() for d in holidays}),
              "workdays": sorted({d.isoformat() for d in workdays}), "updated_by": actor.id, "updated_at": utcnow()}
    row = db.session.get(OfficialCalendar, year, with_for_update=True)
    # Two sysadmins entering a new year at once: the unique year decides, and the later one replaces the entry.
    if row is None and not add_unique(OfficialCalendar(year=year, **values)):
        row = db.session.get(OfficialCalendar, year, with_for_update=True)
    if row is not None:
        for field, value in values.items():
            setattr(row, field, value)
    db.session.flush()
    log.info("official calendar %s entered by user %s: %s holidays, %s make-up workdays", year, actor.id,
             len(values["holidays"]), len(values["workdays"]))
    return get_calendar(year)


def delete_calendar(actor, year):
    """Withdraw a year's entered arrangement (sysadmin): the year returns to HOLIDAY_CALENDAR_FILE or the package.
    A year nothing was entered for → 404 ``calendar_not_found``."""
    require_sysadmin(actor)
    _year_out_of_range(year)
    row = db.session.get(OfficialCalendar, year, with_for_update=True)
    if row is None:
        raise NotFound("calendar_not_found", f"{year} 年没有录入的节假日安排")
    db.session.delete(row)
    db.session.flush()
    log.info("official calendar %s withdrawn by user %s", year, actor.id)
