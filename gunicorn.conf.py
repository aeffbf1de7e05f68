"""gunicorn settings for production. ``gunicorn wsgi:app`` reads this file from the working directory; command-line
options (``--bind``, ``--workers``) override it. See README.md, "Production deployment", and deploy/."""

import os

# Two workers per core, each with a few threads: a thread waiting on PostgreSQL or streaming a download leaves the
# worker's other threads and the other workers serving.
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# A gthread worker keeps answering the master's heartbeat while its threads work, so this only ends a worker that is
# truly stuck. A long export or certificate zip (minutes for a whole district) is never cut off by it; with sync
# workers it would be, at `timeout` seconds.
timeout = 60
graceful_timeout = 30
keepalive = 5

# The access log names the path and the request id, never the query string (it can carry search terms) or the
# client's address: nothing personal in the logs. telemetry.logs.GunicornLogger writes it (and the error log) in
# LOG_FORMAT, with screen links and verify codes in paths redacted.
accesslog = "-"
access_log_format = '%(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms id=%({x-request-id}o)s'
logger_class = "telemetry.logs.GunicornLogger"


def on_starting(server):
    """Before any worker starts: refuse several workers whose rate limits would each count alone (without Redis,
    Flask-Limiter keeps its counters in each worker's memory, so a per-client limit of 30 a minute would be 30 a
    minute per worker; the sign-in failure limit is kept in the database and holds anyway); and clear the metrics
    files of processes gone since the last start (telemetry/metrics.py), keeping a live scheduler's."""
    if server.cfg.workers > 1 and not os.environ.get("REDIS_URL"):
        raise SystemExit(f"gunicorn: {server.cfg.workers} workers need REDIS_URL, so that every worker counts the same "
                         "rate limits; set REDIS_URL, or run one worker (WEB_CONCURRENCY=1)")
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from telemetry.process_files import remove_dead_process_files

        os.makedirs(directory, exist_ok=True)
        remove_dead_process_files(directory)


def child_exit(server, worker):
    from telemetry.process_files import mark_process_dead

    mark_process_dead(worker.pid)
