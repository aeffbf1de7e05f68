"""``run-job`` and ``scheduler``: the scheduled jobs, once now or on their schedule."""

import signal
import sys

import click
from flask.cli import with_appcontext

from schedulers.jobs import JOBS, run


def register(app):
    app.cli.add_command(run_job)
    app.cli.add_command(scheduler)
    app.cli.add_command(worker)


@click.command("run-job")
@click.argument("name", required=False)
@click.option("--list", "list_jobs", is_flag=True, help="Name every job and exit.")
@with_appcontext
def run_job(name, list_jobs):
    """Run one scheduled job once, now, as one unit of work."""
    if list_jobs or not name:
        for job in sorted(JOBS.values(), key=lambda job: job.name):
            click.echo(f"{job.name:28} {job.description}")
        return
    if name not in JOBS:
        raise click.BadParameter(f"unknown job; known: {', '.join(sorted(JOBS))}", param_hint="NAME")
    result = run(JOBS[name])
    click.echo(f"{name}: {result if result is not None else 'done'}")


@click.command("scheduler")
@with_appcontext
def scheduler():
    """Run the scheduler alone (one active instance; others wait as standbys)."""
    from flask import current_app

    from schedulers.runner import run_scheduler

    # systemd stops it with SIGTERM: leave through run_scheduler's cleanup (the lock let go at once, so a standby
    # takes over without waiting for the connection to time out; the leadership gauge back to 0).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_scheduler(current_app._get_current_object())


@click.command("worker")
@click.option("--once", is_flag=True, help="Run what is queued now, then exit.")
@click.option("--idle-seconds", default=2.0, show_default=True, help="How long to wait when nothing is queued.")
@with_appcontext
def worker(once, idle_seconds):
    """Run background jobs (certificate batches, exports) as they are queued, beside or instead of the scheduler's
    own worker; as many as wanted may run, each takes its own jobs."""
    import time

    from extensions import db

    while True:
        ran = run(JOBS["run_background_jobs"])
        db.session.remove()
        if once:
            click.echo(f"{ran} jobs run")
            return
        if not ran:
            time.sleep(idle_seconds)
