"""The scheduler process: APScheduler running the jobs of ``schedulers/jobs.py``, with exactly one leader.

Several schedulers may be started (one per host, or by mistake); only the one holding the leader lock runs the
``leader_only`` jobs: on PostgreSQL a session-level advisory lock held on a dedicated connection, on SQLite an
``fcntl`` lock on a file beside the database. The others stand by and poll the lock, so when the leader dies (its
connection or file handle goes with it) one of them takes over. On becoming leader, the ``catch_up`` jobs run at
once, for what was missed while none led. Every job runs inside an application context as one unit of work; a
job's failure is logged and never stops the scheduler.
"""

import fcntl
import logging
import os
import threading
import time
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from clock import local_zone, utcnow
from extensions import db
from schedulers.jobs import JOBS, run
from telemetry import metrics, process_files

log = logging.getLogger("baodao.scheduler")
# schedulers.jobs.run logs every run with its result; APScheduler's own "Running job" lines, twice per run of a job
# due every few seconds, would drown the log.
logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)

# pg_try_advisory_lock key: the bytes of "baodao" as one bigint.
ADVISORY_LOCK_KEY = int.from_bytes(b"baodao", "big")


class PostgresLeaderLock:
    """A session-level advisory lock on a connection of its own (autocommit, outside the pool)."""

    # pg_locks shows a bigint advisory key as two oids (high and low 32 bits), objsubid 1.
    HELD = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid)")

    @classmethod
    def held_by_anyone(cls, session):
        return session.scalar(cls.HELD, {"high": ADVISORY_LOCK_KEY >> 32,
                                         "low": ADVISORY_LOCK_KEY & 0xFFFFFFFF}) > 0

    def __init__(self, url):
        self.engine = create_engine(url, poolclass=NullPool)
        self.conn = None

    def acquire(self):
        try:
            if self.conn is None:
                self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            return bool(self.conn.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                          {"key": ADVISORY_LOCK_KEY}).scalar())
        except Exception:
            log.warning("scheduler lock: database unreachable", exc_info=True)
            self._drop()
            return False

    def still_held(self):
        try:
            return self.conn is not None and self.conn.execute(text("SELECT 1")).scalar() == 1
        except Exception:
            self._drop()
            return False

    def release(self):
        if self.conn is not None:
            try:
                self.conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
            except Exception:
                log.debug("scheduler lock: unlock failed; closing the connection frees it", exc_info=True)
        self._drop()

    def _drop(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                log.debug("scheduler lock: close failed", exc_info=True)
        self.conn = None


class FileLeaderLock:
    """An exclusive ``flock`` on a file next to the SQLite database; the kernel frees it when the process dies."""

    def __init__(self, path):
        self.path = Path(path)
        self.fd = None

    def acquire(self):
        if self.fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def still_held(self):
        return self.fd is not None

    def release(self):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def held_by_anyone(self):
        """Whether some process holds the lock: a shared lock cannot be had beside an exclusive one. Taken and let go
        at once, so a standby trying meanwhile only waits for its next poll."""
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)
        return False


def _lock_file(app):
    """The file lock beside a SQLite database, or None on PostgreSQL."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        return None
    from config import INSTANCE_DIR

    database = url.database
    return FileLeaderLock(f"{database}.scheduler.lock" if database and database != ":memory:"
                          else INSTANCE_DIR / "scheduler.lock")


def leader_lock(app):
    return _lock_file(app) or PostgresLeaderLock(app.config["SQLALCHEMY_DATABASE_URI"])


def leader_present(app):
    """Whether any scheduler process, on any machine, holds the leader lock now (for the metrics)."""
    lock_file = _lock_file(app)
    return lock_file.held_by_anyone() if lock_file else PostgresLeaderLock.held_by_anyone(db.session)


def job_runner(app, job):
    """The job as APScheduler calls it: in an app context, one unit of work, failures logged."""

    def run_in_app():
        with app.app_context():
            try:
                run(job)
            except Exception:
                log.exception("job %s failed", job.name)
            finally:
                db.session.remove()

    run_in_app.__name__ = job.name
    return run_in_app


def build_scheduler(app, scheduler_class, leader_only=True):
    """A scheduler of the ``leader_only`` jobs (run by the leader alone), or of the others (run by every scheduler
    process, leading or standing by)."""
    with app.app_context():
        zone = local_zone()
    scheduler = scheduler_class(timezone=zone, job_defaults={
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": app.config["SCHEDULER_MISFIRE_GRACE_SECONDS"],
    })
    for job in JOBS.values():
        if job.leader_only != leader_only:
            continue
        first_run = {"next_run_time": utcnow()} if job.catch_up else {}
        scheduler.add_job(job_runner(app, job), job.trigger, id=job.name, name=job.name, replace_existing=True,
                          **job.trigger_args, **first_run)
    return scheduler


def start_unled_jobs(app):
    """Start the jobs that are not ``leader_only`` in this process, whether it leads or stands by; None if none."""
    if all(job.leader_only for job in JOBS.values()):
        return None
    scheduler = build_scheduler(app, BackgroundScheduler, leader_only=False)
    scheduler.start()
    return scheduler


def run_scheduler(app):
    """``flask --app wsgi scheduler``: lead when the lock is free, otherwise stand by until it is."""
    lock = leader_lock(app)
    poll = app.config["SCHEDULER_STANDBY_POLL_SECONDS"]
    pid = os.getpid()
    standing_by = False
    unled = start_unled_jobs(app)
    try:
        while True:
            if not lock.acquire():
                if not standing_by:
                    log.info("scheduler %s: standby (another scheduler leads)", pid)
                    standing_by = True
                time.sleep(poll)
                continue
            standing_by = False
            log.info("scheduler %s: leader, running jobs", pid)
            metrics.SCHEDULER_LEADER.set(1)
            scheduler = build_scheduler(app, BlockingScheduler)

            def watch(scheduler=scheduler):
                if not lock.still_held():
                    scheduler.shutdown(wait=False)

            scheduler.add_job(watch, "interval", seconds=poll, id="leadership")
            scheduler.start()
            metrics.SCHEDULER_LEADER.set(0)
            lock.release()
            log.warning("scheduler %s: leadership lost, standing by", pid)
    finally:
        metrics.SCHEDULER_LEADER.set(0)
        lock.release()
        if unled is not None:
            unled.shutdown(wait=False)
        process_files.mark_process_dead(pid)


class InProcessScheduler:
    """A BackgroundScheduler in a daemon thread of the web process, leading only while it holds the lock."""

    def __init__(self, app):
        self.app = app
        self.stopped = threading.Event()
        self.leading = threading.Event()
        self.thread = threading.Thread(target=self._lead_or_wait, name="baodao-scheduler", daemon=True)

    def _lead_or_wait(self):
        lock = leader_lock(self.app)
        poll = self.app.config["SCHEDULER_STANDBY_POLL_SECONDS"]
        pid = os.getpid()
        unled = start_unled_jobs(self.app)
        try:
            while not self.stopped.is_set():
                if not lock.acquire():
                    self.stopped.wait(poll)
                    continue
                log.info("in-process scheduler %s: leader, running jobs", pid)
                scheduler = build_scheduler(self.app, BackgroundScheduler)
                scheduler.start()
                self.leading.set()
                metrics.SCHEDULER_LEADER.set(1)
                while not self.stopped.wait(poll) and lock.still_held():
                    pass
                metrics.SCHEDULER_LEADER.set(0)
                self.leading.clear()
                scheduler.shutdown(wait=True)
                lock.release()
                if not self.stopped.is_set():
                    log.warning("in-process scheduler %s: leadership lost, standing by", pid)
        finally:
            lock.release()
            if unled is not None:
                unled.shutdown(wait=True)

    def stop(self, timeout=30):
        self.stopped.set()
        self.thread.join(timeout)


def start_in_process(app):
    """The scheduler inside the development server (``serve`` with SCHEDULER_ENABLED), behind the same lock."""
    scheduler = InProcessScheduler(app)
    scheduler.thread.start()
    return scheduler
