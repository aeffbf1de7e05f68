"""Scheduled jobs for wishes (see schedulers/registry.py)."""

from schedulers.registry import scheduled
from services import wishes


@scheduled("remind_overdue_wishes", "cron", hour=9)
def remind_overdue_wishes():
    """Remind claimers (and the posting staff) once when a claimed wish passes its deadline."""
    return wishes.remind_overdue()
