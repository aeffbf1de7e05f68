"""Roster jobs: generate the coming shifts, remind assignees, mark no-shows."""

from schedulers.registry import scheduled
from services import reminders, rosters


@scheduled("generate_rosters", "cron", minute=5)
def generate_rosters():
    """Keep shifts for the next 14 local days from every template and fill free seats from the pools."""
    return rosters.generate_rosters()


@scheduled("send_reminders", "interval", minutes=1)
def send_reminders():
    """Remind assignees the evening before and one hour before a shift (notification and WeChat message)."""
    return reminders.send_reminders()


@scheduled("mark_no_shows", "interval", minutes=5)
def mark_no_shows():
    """Mark assignees who never checked in as no_show once a shift plus the grace period has ended."""
    return rosters.mark_no_shows()
