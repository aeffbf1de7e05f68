"""Prometheus metrics, served as text at ``/metrics`` to a caller bearing ``METRICS_TOKEN`` or on the loopback.

Counted where they happen: HTTP requests (per route rule, method and status, with their latency until the answer
starts), check-in scans, scheduled job runs and failures, and whether this scheduler process leads. Read from the
database when scraped: outbound WeChat messages by state, and whether any scheduler holds the leader lock.

Under gunicorn each worker is a process of its own. With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn.conf.py and
the systemd units set it), prometheus_client writes every process's values to files there and ``/metrics`` adds
up the files of all of them, whichever worker answers; a scheduler on the same machine writes there too. gunicorn
marks an exited worker's live gauges dead (``child_exit``) and clears files of dead processes when it starts
(telemetry/process_files.py).
"""

import hmac
import ipaddress
import time

from flask import current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from telemetry import process_files

REQUESTS = Counter("baodao_http_requests_total", "HTTP requests answered, by route rule, method and status",
                   ["endpoint", "method", "status"])
REQUEST_SECONDS = Histogram("baodao_http_request_duration_seconds",
                            "Time until the answer starts (a streamed export goes on after), by route rule, method "
                            "and status", ["endpoint", "method", "status"],
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
CHECKINS = Counter("baodao_checkins_total", "Accepted check-in scans, by action (check_in, check_out, duplicate)",
                   ["action"])
JOB_RUNS = Counter("baodao_job_runs_total", "Scheduled job runs started, by job", ["job"])
JOB_FAILURES = Counter("baodao_job_failures_total", "Scheduled job runs that raised, by job", ["job"])
JOB_SECONDS = Histogram("baodao_job_duration_seconds", "How long scheduled job runs took, by job", ["job"],
                        buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600))
# livesum: the processes of this machine that lead now (a dead one's value is dropped); across machines the sum is 1.
SCHEDULER_LEADER = Gauge("baodao_scheduler_leader", "1 while this scheduler process holds the leader lock",
                         multiprocess_mode="livesum")

UNMATCHED = "unmatched"


def start_timer():
    g.metrics_started = time.perf_counter()


def count_request(response):
    started = g.pop("metrics_started", None)
    rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    labels = (rule, request.method, str(response.status_code))
    REQUESTS.labels(*labels).inc()
    if started is not None:
        REQUEST_SECONDS.labels(*labels).observe(time.perf_counter() - started)
    return response


def count_scan(action):
    CHECKINS.labels(action).inc()


def register(app):
    app.before_request(start_timer)
    app.after_request(count_request)


class DatabaseCollector:
    """Gauges read from the database at each scrape, by whichever process answers."""

    def collect(self):
        from extensions import db

        up = GaugeMetricFamily("baodao_database_up", "1 when the database answered this scrape's queries")
        try:
            families = list(self._read())
        except Exception:
            # A scrape during an outage still answers, with the counted metrics and this gauge at 0.
            db.session.rollback()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self):
        from extensions import db
        from models.notification import OutboundMessage, OutboundStatus
        from schedulers.runner import leader_present

        counts = dict(db.session.execute(select(OutboundMessage.status, func.count())
                                         .where(OutboundMessage.status != OutboundStatus.SENT)
                                         .group_by(OutboundMessage.status)).all())
        outbox = GaugeMetricFamily("baodao_outbound_messages", "WeChat messages not yet sent, by state",
                                   labels=["status"])
        for status in (OutboundStatus.PENDING, OutboundStatus.SENDING, OutboundStatus.FAILED):
            outbox.add_metric([str(status)], counts.get(status, 0))
        yield outbox
        yield GaugeMetricFamily("baodao_scheduler_leader_present",
                                "1 when some scheduler process, on any machine, holds the leader lock",
                                value=1 if leader_present(current_app) else 0)


def exposition():
    """The text of ``/metrics``: every process's counted values, and the database's gauges."""
    directory = current_app.config["PROMETHEUS_MULTIPROC_DIR"]
    if directory:
        process_files.forget_dead_live_gauges(directory)
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted, path=directory)
    else:
        counted = REGISTRY
    read = CollectorRegistry()
    read.register(DatabaseCollector())
    return generate_latest(counted) + generate_latest(read), CONTENT_TYPE_LATEST


def may_scrape():
    """A caller bearing METRICS_TOKEN, or one on the loopback that no untrusted proxy speaks for."""
    token = current_app.config["METRICS_TOKEN"]
    offered = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return True
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
    # Behind a proxy that the app was not told to trust, every request comes from the loopback: the proxy's own.
    forwarded = "X-Forwarded-For" in request.headers and not current_app.config["TRUSTED_PROXY_COUNT"]
    return loopback and not forwarded
