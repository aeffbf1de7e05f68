"""The scheduler process: one leader among several, takeover when it dies, jobs by name from the CLI."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from extensions import db
from models import Shift, ShiftTemplate
from schedulers.jobs import JOBS
from tests.conftest import DATABASE_URL
from tests.test_posts import post_with_admin

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")


def shift_count():
    count = db.session.scalar(select(func.count()).select_from(Shift))
    db.session.commit()  # release SQLite's write lock at once: the schedulers write too
    return count


def daily_template(post_id, start, end):
    db.session.add(ShiftTemplate(post_id=post_id, weekdays=[1, 2, 3, 4, 5, 6, 7], start=start, end=end, seats=1,
                                 skip_holidays=False, active=True))
    db.session.commit()


class SchedulerProcess:
    def __init__(self, tmp_path, n):
        self.log = tmp_path / f"scheduler-{n}.log"
        env = dict(os.environ, DATABASE_URL=DATABASE_URL, SCHEDULER_STANDBY_POLL_SECONDS="0.3",
                   APP_ENV="development", FLASK_DEBUG="0")
        env.pop("TEST_DATABASE_URL", None)
        self.handle = self.log.open("w")
        self.proc = subprocess.Popen([FLASK, "--app", "wsgi", "scheduler"], cwd=ROOT, env=env,
                                     stdout=self.handle, stderr=subprocess.STDOUT)

    def output(self):
        return self.log.read_text()

    def is_leader(self):
        return "leader, running jobs" in self.output()

    def ran_catch_up(self):
        return "job generate_rosters done" in self.output()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.handle.close()


def wait_for(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_only_one_scheduler_leads_and_another_takes_over_when_it_dies(client, tmp_path):
    _, post_id = post_with_admin(client)
    daily_template(post_id, "07:00", "09:00")
    first, second = SchedulerProcess(tmp_path, 1), SchedulerProcess(tmp_path, 2)
    try:
        assert wait_for(lambda: first.is_leader() or second.is_leader()), first.output() + second.output()
        leader, standby = (first, second) if first.is_leader() else (second, first)
        assert wait_for(leader.ran_catch_up), leader.output()
        assert wait_for(lambda: shift_count() >= 13)
        assert wait_for(lambda: "standby" in standby.output()), standby.output()
        time.sleep(1.0)  # several standby polls: it must still not lead nor run the leader's jobs
        assert not standby.is_leader()
        assert [name for name, job in JOBS.items() if job.leader_only and f"job {name} " in standby.output()] == []
        generated = shift_count()

        daily_template(post_id, "18:00", "20:00")
        leader.stop(signal.SIGKILL)
        assert wait_for(standby.is_leader), standby.output()
        assert wait_for(standby.ran_catch_up), standby.output()
        # The new leader caught up at once: the template added while nobody led has its shifts.
        assert wait_for(lambda: shift_count() >= generated + 13)
    finally:
        first.stop()
        second.stop()


def test_run_job_lists_and_runs_jobs_by_name(app, client):
    names = set(JOBS)
    assert {"generate_rosters", "send_reminders", "mark_no_shows"} <= names
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["run-job", "--list"])
    assert listed.exit_code == 0 and "generate_rosters" in listed.output
    _, post_id = post_with_admin(client)
    daily_template(post_id, "07:00", "09:00")
    ran = runner.invoke(args=["run-job", "generate_rosters"])
    assert ran.exit_code == 0, ran.output
    assert "generate_rosters:" in ran.output and shift_count() >= 13
    unknown = runner.invoke(args=["run-job", "no_such_job"])
    assert unknown.exit_code != 0


def test_leader_lock_admits_one_holder_at_a_time(app):
    from schedulers.runner import leader_lock

    first, second = leader_lock(app), leader_lock(app)
    try:
        assert first.acquire() and first.still_held()
        assert not second.acquire()
        first.release()
        assert second.acquire()
        assert not first.acquire()
    finally:
        first.release()
        second.release()


def test_in_process_schedulers_share_the_same_leadership(app, client):
    from schedulers.runner import start_in_process

    app.config["SCHEDULER_STANDBY_POLL_SECONDS"] = 0.2
    _, post_id = post_with_admin(client)
    daily_template(post_id, "07:00", "09:00")
    first = start_in_process(app)
    second = start_in_process(app)
    try:
        assert wait_for(lambda: first.leading.is_set() or second.leading.is_set())
        time.sleep(0.6)
        assert first.leading.is_set() != second.leading.is_set()
        assert wait_for(lambda: shift_count() >= 13)  # the catch-up run at start
        leader, standby = (first, second) if first.leading.is_set() else (second, first)
        leader.stop()
        assert wait_for(standby.leading.is_set)
    finally:
        first.stop()
        second.stop()
        app.config.pop("SCHEDULER_STANDBY_POLL_SECONDS", None)
