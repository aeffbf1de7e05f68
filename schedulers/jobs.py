"""The scheduled jobs, one table: each is a service function run as one unit of work (services/database.py).

``leader_only`` jobs run only on the scheduler that holds the leader lock (schedulers/runner.py): two schedulers
must never fill rosters or send reminders at once. ``catch_up`` jobs also run as soon as a scheduler starts
leading, for what was missed while none ran.
"""

import logging
import time
from dataclasses import dataclass, field

from services import appeals, background, checkins, meetings, reminders, rollups, rosters, tasks, uploads, wishes
from services.database import unit_of_work
from telemetry import metrics

log = logging.getLogger("baodao.scheduler")


@dataclass(frozen=True)
class Job:
    name: str
    func: object
    trigger: str
    trigger_args: dict = field(default_factory=dict)
    description: str = ""
    leader_only: bool = True
    catch_up: bool = False
    quiet_when_idle: bool = False  # frequent jobs: a run that found nothing to do is logged at DEBUG only


JOBS = {job.name: job for job in (
    Job("generate_rosters", rosters.generate_rosters, "cron", {"minute": 5},
        "Keep shifts for the next 14 local days from every template and fill free seats from the pools.",
        catch_up=True),
    Job("alert_unfilled_shifts", rosters.alert_unfilled_shifts, "interval", {"minutes": 10},
        "Tell the community's staff and the post's pool once when a shift still has free seats 48 hours before it "
        "starts."),
    Job("send_reminders", reminders.send_reminders, "interval", {"minutes": 1},
        "Remind assignees the evening before and one hour before a shift, confirmed sign-ups at 18:00 the day before "
        "an activity, and deliver the WeChat outbox."),
    Job("mark_no_shows", rosters.mark_no_shows, "interval", {"minutes": 5},
        "Mark assignees who never checked in as no_show once a shift plus the grace period has ended."),
    Job("close_open_attendances", checkins.close_open_attendances, "interval", {"minutes": 5},
        "Close attendances left open after their activity or shift ended, at the scheduled end, for review."),
    Job("reconcile_statistics", rollups.rebuild, "cron", {"hour": 3, "minute": 45},
        "Rebuild the statistics rollups from the records, reports and shifts, and warn of any that had drifted "
        "(approvals and corrections wait the few seconds it takes)."),
    Job("remind_overdue_wishes", wishes.remind_overdue, "cron", {"hour": 9},
        "Remind claimers (and the posting staff) once when a claimed wish passes its deadline."),
    Job("remind_overdue_appeals", appeals.remind_overdue, "interval", {"minutes": 10},
        "Tell the community's staff (and the department) once when an appeal is late, overdue, or its escalation "
        "past due."),
    Job("close_resolved_appeals", appeals.close_resolved, "interval", {"minutes": 10},
        "Close resolved appeals nobody rated, 7x24 hours after their resolution."),
    Job("delete_unattached_uploads", uploads.delete_unattached, "cron", {"minute": 20},
        "Delete photos attached to nothing a day after their upload."),
    Job("recheck_photos", uploads.recheck_photos, "interval", {"minutes": 10},
        "Ask WeChat once more about photos whose media check verdict has not come within an hour, then send them "
        "to moderation."),
    # Every scheduler process works on background jobs, the leader and the standbys alike: they take them one by
    # one (services/background.py), so more processes finish a queue sooner.
    Job("run_background_jobs", background.run_background_jobs, "interval", {"seconds": 5},
        "Run queued certificate batches and exports, and resume those whose worker stopped.", leader_only=False,
        quiet_when_idle=True),
    Job("delete_expired_job_files", background.delete_expired_files, "cron", {"hour": 3, "minute": 30},
        "Delete the files of background jobs finished more than JOB_RETENTION_DAYS ago."),
    Job("remind_joint_meeting", meetings.remind_joint_meeting, "cron", {"hour": 9, "minute": 30},
        "From the 20th of a month, tell each community's own staff once when no joint meeting is scheduled or held "
        "that month.", catch_up=True),
    Job("remind_overdue_tasks", tasks.remind_overdue, "cron", {"hour": 9, "minute": 40},
        "Tell the community's own staff (and the owner unit's admins) once when a meeting's task passes its due "
        "date.", catch_up=True),
)}


def run(job):
    """Run a job once, now, as one unit of work (inside an application context); returns what it returned.
    Counted in the metrics (telemetry/metrics.py): the run, its duration and, when it raises, the failure."""
    started = time.monotonic()
    metrics.JOB_RUNS.labels(job.name).inc()
    try:
        with unit_of_work():
            result = job.func()
    except BaseException:
        metrics.JOB_FAILURES.labels(job.name).inc()
        raise
    finally:
        metrics.JOB_SECONDS.labels(job.name).observe(time.monotonic() - started)
    level = logging.DEBUG if job.quiet_when_idle and not result else logging.INFO
    log.log(level, "job %s done in %.2fs: %s", job.name, time.monotonic() - started, result)
    return result
