"""Scheduled jobs (see schedulers/registry.py)."""

from schedulers.registry import scheduled
from services import checkins


@scheduled("close_open_attendances", "interval", minutes=5)
def close_open_attendances():
    """Close attendances left open after their activity or shift ended, at the scheduled end, for review."""
    return checkins.close_open_attendances()
