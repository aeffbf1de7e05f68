"""China's official calendar: statutory holidays (法定节假日) and make-up workdays (调休上班).

A template with ``skip_holidays`` runs on working days only: it skips statutory holidays (and the weekends around
them) and also runs on make-up workdays, even when those fall on a Saturday or Sunday. For a year the
``chinese_calendar`` library does not know yet, plain weekdays (Monday to Friday) are working days and a warning is
logged once per year; generation never fails because of the calendar.
"""

import logging
from functools import lru_cache

import chinese_calendar
from chinese_calendar.constants import holidays, workdays

log = logging.getLogger("baodao.holidays")

# The years the library's calendar covers (it refuses dates outside them).
KNOWN_YEARS = range(min(holidays).year, max(max(holidays), max(workdays)).year + 1)

_warned_years = set()


@lru_cache(maxsize=4096)
def is_working_day(day):
    """True on an official working day: a make-up workday counts, a statutory holiday does not."""
    if day.year in KNOWN_YEARS:
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
