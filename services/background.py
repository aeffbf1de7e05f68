"""Background jobs: a street's certificate batch or a district's year of records, made outside any request, with
their progress, and a file to download when done (contract v1.1, "Background jobs").

- ``submit`` checks the arguments exactly as the synchronous call would (so a mistake is a 4xx before the 202) and
  queues the job, in the request's unit of work.
- Workers (the ``run_background_jobs`` job in every scheduler process, or ``flask --app wsgi worker``) take the
  oldest job they may: a queued one, or one running on a worker not heard from for ``STALE`` (it died). Taking it is
  a conditional update, committed before the work starts, so two workers never take one job. The worker's heartbeat
  and the progress are committed every batch (``commit_batch``); a job resumed after a worker died starts again from
  the beginning, and a certificate batch then reuses the certificates it had issued
  (services/certificates.py). After ``MAX_ATTEMPTS`` takes a job fails visibly (``worker_lost``), never silently.
- The file goes to the storage photos use (a folder, or S3), kept ``JOB_RETENTION_DAYS``; its link is signed like a
  photo's (services/signed_links.py), so a browser downloads it without a header. The one who started the job is
  told when it is done (``job_done``).
"""

import logging
import os
import secrets
import tempfile
from contextlib import suppress
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from clock import utcnow
from errors import Conflict, DomainError, Forbidden, NotFound
from extensions import db
from models import BackgroundJob
from models.background_job import JobStatus
from services import certificates, exports, notifications
from services.authz import Actor, fetch
from services.database import commit_batch, is_sqlite, update_if
from services.signed_links import check, signed_link
from services.storage import storage

log = logging.getLogger("baodao.background")

STALE = timedelta(minutes=5)
MAX_ATTEMPTS = 3
ZIP, CSV = "application/zip", "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _not_found():
    return NotFound("job_not_found", "任务不存在")


def access_job(actor, job_id):
    """A job: the one who started it sees it, and a sysadmin; others get 404."""
    job = fetch(BackgroundJob, job_id, _not_found())
    if job.created_by != actor.id and not actor.is_sysadmin:
        raise _not_found()
    return job


def _queue(actor, kind, arguments, total):
    job = BackgroundJob(kind=kind, status=JobStatus.QUEUED, created_by=actor.id, arguments=arguments, total=total,
                        done_count=0, attempts=0, created_at=utcnow())
    db.session.add(job)
    db.session.flush()
    return job


def submit_certificate_batch(actor, *, issuer_id, period_from, period_to):
    """Queue a certificate batch, after the checks ``POST /certificates/batch`` makes."""
    batch = certificates.prepare_batch(actor, issuer_id=issuer_id, period_from=period_from, period_to=period_to)
    return _queue(actor, "certificate_batch", {"issuer_id": issuer_id, "from": period_from.isoformat(),
                                               "to": period_to.isoformat()}, batch.count)


def submit_export(actor, *, file_format="csv", **filters):
    """Queue an export of service records, after the checks ``GET /service-records/export`` makes."""
    query = exports.export_query(actor, **filters)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    arguments = {key: value.isoformat() if isinstance(value, date) else value
                 for key, value in filters.items() if value is not None}
    return _queue(actor, "service_record_export", {**arguments, "format": file_format}, total)


def list_jobs(actor):
    """The caller's jobs, newest first (a sysadmin's list holds everyone's)."""
    query = select(BackgroundJob).order_by(BackgroundJob.id.desc())
    return query if actor.is_sysadmin else query.where(BackgroundJob.created_by == actor.id)


def present(job):
    progress = 1.0 if job.status == JobStatus.DONE else (job.done_count / job.total if job.total else 0.0)
    downloadable = job.status == JobStatus.DONE and job.file_deleted_at is None
    return {"id": job.id, "kind": job.kind, "status": job.status, "progress": round(min(progress, 1.0), 4),
            "total": job.total, "done_count": job.done_count,
            "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
            "download_url": signed_link(f"/api/v1/jobs/{job.id}/download", "job", job.id) if downloadable else None,
            "created_at": job.created_at, "finished_at": job.finished_at}


def download(job_id, exp, sig):
    """A done job's file, for whoever holds its signed link: ``(chunks, mimetype, filename)``."""
    check("job", job_id, exp, sig, Forbidden("link_expired", "下载链接已过期，请刷新任务后重试"))
    job = fetch(BackgroundJob, job_id, _not_found())
    if job.status == JobStatus.FAILED:
        raise Conflict("job_failed", "任务失败，没有文件")
    if job.status != JobStatus.DONE:
        raise Conflict("job_not_done", "任务尚未完成")
    chunks = storage().chunks(job.file_key) if job.file_deleted_at is None else None
    if chunks is None:
        raise Conflict("job_expired", f"文件已超过保留期（{current_app.config['JOB_RETENTION_DAYS']} 天）")
    return chunks, job.mimetype, job.filename


# The worker.

def _claim(now):
    """The oldest job this worker may take, now its own (committed before any work), or None."""
    candidates = db.session.scalars(
        select(BackgroundJob).where(BackgroundJob.status.in_(JobStatus.CLAIMABLE)).order_by(BackgroundJob.id)
        .limit(20))
    for job in list(candidates):
        taken = update_if(job, (BackgroundJob.status == JobStatus.QUEUED) | (
            (BackgroundJob.status == JobStatus.RUNNING) & (BackgroundJob.heartbeat_at < now - STALE)),
            status=JobStatus.RUNNING, attempts=BackgroundJob.attempts + 1, heartbeat_at=now,
            started_at=job.started_at or now, done_count=0)
        commit_batch()
        if taken:
            job.take = job.attempts
            return job
    return None


class Superseded(Exception):
    """This worker was taken for dead and another took its job: it stops and leaves the job to the other."""


def _still_mine(job, *, aside=False, **values):
    """Write ``values`` on the job while this worker's take (its ``attempts`` number) is still the job's, committed;
    a worker another one superseded (it stalled past ``STALE``) stops here instead of writing over it. ``aside``:
    in a transaction of its own, leaving the session's open (an export's rows still streaming from it)."""
    statement = (update(BackgroundJob)
                 .where(BackgroundJob.id == job.id, BackgroundJob.status == JobStatus.RUNNING,
                        BackgroundJob.attempts == job.take)
                 .values(heartbeat_at=utcnow(), **values).execution_options(synchronize_session=False))
    if aside and not is_sqlite():
        # PostgreSQL streams through a server-side cursor, which ends with its transaction. (SQLite's session holds
        # the only write lock, and its cursor outlives a commit, so there the session commits.)
        with db.engine.begin() as connection:
            changed = connection.execute(statement).rowcount
    else:
        changed = db.session.execute(statement).rowcount
        commit_batch()
    if changed != 1:
        raise Superseded


def _heartbeat(job, done, *, aside=False):
    """The job's progress and this worker's heartbeat: a worker that stops answering is noticed."""
    _still_mine(job, aside=aside, done_count=done)


def _finish(job, **values):
    _still_mine(job, finished_at=utcnow(), **values)


def _run_certificate_batch(job, path):
    arguments = job.arguments
    batch = certificates.prepare_batch(Actor(job.created_by), issuer_id=arguments["issuer_id"],
                                       period_from=date.fromisoformat(arguments["from"]),
                                       period_to=date.fromisoformat(arguments["to"]))
    done = 0

    def issued(_number):
        nonlocal done
        done += 1
        if done % certificates.BATCH_CHUNK == 0:
            _heartbeat(job, done)

    with open(path, "wb") as out:
        written = certificates.write_batch_zip(batch, out, on_issued=issued)
    return written, ZIP, batch.filename


def _run_export(job, path):
    arguments = dict(job.arguments)
    file_format = arguments.pop("format")
    filters = {key: date.fromisoformat(value) if key in ("date_from", "date_to") else value
               for key, value in arguments.items()}
    query = exports.export_query(Actor(job.created_by), **filters)

    def progress(n):
        _heartbeat(job, n, aside=True)

    if file_format == "xlsx":
        made = exports.write_xlsx(query, progress)
        os.replace(made, path)
    else:
        with open(path, "wb") as out:
            for chunk in exports.csv_chunks(query, progress):
                out.write(chunk)
    mimetype = XLSX if file_format == "xlsx" else CSV
    return job.total or 0, mimetype, f"service-records.{file_format}"


RUNNERS = {"certificate_batch": _run_certificate_batch, "service_record_export": _run_export}


def _run(job):
    if job.attempts > MAX_ATTEMPTS:
        _finish(job, status=JobStatus.FAILED, error_code="worker_lost",
                error_message=f"处理该任务的进程 {MAX_ATTEMPTS} 次中断，已停止重试")
        return
    fd, path = tempfile.mkstemp(prefix="baodao-job-", suffix=".part")
    os.close(fd)
    try:
        done, mimetype, filename = RUNNERS[job.kind](job, path)
        key = f"jobs/{job.id}-{secrets.token_hex(8)}"
        storage().put_file(key, path, mimetype)
    except DomainError as exc:
        db.session.rollback()
        _finish(job, status=JobStatus.FAILED, error_code=exc.code, error_message=exc.message[:500])
        return
    finally:
        os.unlink(path)
    _finish(job, status=JobStatus.DONE, done_count=done, file_key=key, filename=filename, mimetype=mimetype)
    notifications.notify(job.created_by, "job_done", "导出任务已完成", filename, ref=f"job:{job.id}",
                         key=f"job:{job.id}:done")
    commit_batch()


def run_background_jobs(limit=10):
    """Take and run queued jobs (and jobs whose worker died), one after the other; how many were run. An
    unexpected error fails the job with ``internal_error`` and the next one is taken."""
    ran = 0
    while ran < limit and (job := _claim(utcnow())) is not None:
        try:
            _run(job)
        except Superseded:
            db.session.rollback()
            log.warning("background job %s was taken over by another worker", job.id)
        except Exception:
            db.session.rollback()
            log.exception("background job %s failed", job.id)
            with suppress(Superseded):
                _finish(job, status=JobStatus.FAILED, error_code="internal_error", error_message="任务处理出错")
        ran += 1
    return ran


def delete_expired_files():
    """Delete the files of jobs finished more than JOB_RETENTION_DAYS ago; the jobs stay, saying so."""
    cutoff = utcnow() - timedelta(days=current_app.config["JOB_RETENTION_DAYS"])
    expired = list(db.session.scalars(select(BackgroundJob).where(
        BackgroundJob.status == JobStatus.DONE, BackgroundJob.finished_at < cutoff,
        BackgroundJob.file_deleted_at.is_(None))))
    for job in expired:
        storage().delete(job.file_key)
        job.file_deleted_at = utcnow()
    db.session.flush()
    return len(expired)

