"""Scheduled jobs for statistics (see schedulers/registry.py)."""

from schedulers.registry import scheduled
from services import stats


@scheduled("refresh_statistics", "interval", minutes=10)
def refresh_statistics():
    """Recompute this year's statistics snapshot of every district and street, so requests find it warm."""
    return f"{stats.refresh_snapshots()} regions"
