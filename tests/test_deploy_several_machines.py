"""Several web machines, as deploy/ sets them up: two gunicorn instances on ports of their own, one Redis (rate
limits), one PostgreSQL database migrated with ``db upgrade``, and two ``flask --app wsgi scheduler`` processes of
which exactly one leads. The login limit holds across both instances; the standby takes over when the leader
dies; the metrics say so."""

import json
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import DATABASE_URL, ON_POSTGRES
from tests.servers import (
    Process,
    flask_command,
    forget_redis_keys,
    free_port,
    production_env,
    require_redis,
    scratch_postgres_database,
    start_gunicorn,
)
from tests.test_deploy_nginx import metric

if not ON_POSTGRES:
    pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (several machines share one PostgreSQL)",
                allow_module_level=True)

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def machines():
    prefix = require_redis()
    directory = Path(tempfile.mkdtemp(prefix="baodao-machines-"))
    with scratch_postgres_database(DATABASE_URL, "machines") as database_url:
        def env_of(machine):
            (directory / machine).mkdir(exist_ok=True)
            return production_env(database_url, directory / machine, REDIS_URL="redis://127.0.0.1:6379/14",
                                  RATELIMIT_KEY_PREFIX=prefix, PROMETHEUS_MULTIPROC_DIR=directory / machine,
                                  SCHEDULER_STANDBY_POLL_SECONDS="0.5")

        migrated = flask_command(env_of("a"), "db", "upgrade")
        assert migrated.returncode == 0, migrated.stderr
        admin = flask_command(env_of("a"), "create-admin", "ops", "--password", PASSWORD)
        assert admin.returncode == 0, admin.stderr
        ports = {"a": free_port(), "b": free_port()}
        web = {name: start_gunicorn(port, env_of(name), directory / f"web-{name}.log") for name, port in ports.items()}
        yield {"urls": {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}, "env_of": env_of,
               "dir": directory}
        for process in web.values():
            process.stop()
    forget_redis_keys(prefix)


def login(url, username, password):
    return requests.post(f"{url}/api/v1/auth/login", json={"username": username, "password": password}, timeout=10)


def test_the_login_limit_holds_across_both_instances(machines):
    a, b = machines["urls"]["a"], machines["urls"]["b"]
    assert login(a, "ops", PASSWORD).status_code == 200
    failures = [login(url, "ops", "wrong-password").status_code for url in (a, b) * 5]
    assert failures == [401] * 10
    # The eleventh attempt, on either machine, and even with the right password: the window is shared in Redis.
    assert login(a, "ops", "wrong-password").status_code == 429
    refused = login(b, "ops", PASSWORD)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert login(b, "someone-else", "wrong-password").status_code == 401


def log_messages(process):
    """The messages of a process's JSON log lines (every line must be one)."""
    return [json.loads(line)["message"] for line in process.output().splitlines() if line.strip()]


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_exactly_one_of_two_schedulers_leads_and_the_other_takes_over(machines):
    env, directory, metrics_url = machines["env_of"]("a"), machines["dir"], machines["urls"]["a"] + "/metrics"
    schedulers = [Process([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"], env,
                          directory / f"scheduler-{n}.log")
                  for n in (1, 2)]
    try:
        def said(process, word):
            return any(f": {word}" in message for message in log_messages(process))

        wait_until(lambda: all(said(s, "leader") or said(s, "standby") for s in schedulers), 30,
                   "both schedulers to say whether they lead")
        leaders = [s for s in schedulers if said(s, "leader")]
        assert len(leaders) == 1, [log_messages(s) for s in schedulers]
        leader, standby = leaders[0], next(s for s in schedulers if s is not leaders[0])

        def scraped():
            return requests.get(metrics_url, timeout=10).text

        wait_until(lambda: metric(scraped(), "baodao_job_runs_total", job="generate_rosters"), 30,
                   "the leader's catch-up run of generate_rosters to be counted")
        text = scraped()
        assert metric(text, "baodao_scheduler_leader") == 1
        assert metric(text, "baodao_scheduler_leader_present") == 1
        assert not metric(text, "baodao_job_failures_total", job="generate_rosters")

        # The leader dies without a word; its database session goes with it, and the standby takes over.
        leader.stop(signal.SIGKILL)
        wait_until(lambda: said(standby, "leader"), 30, "the standby to take over")
        wait_until(lambda: metric(scraped(), "baodao_scheduler_leader") == 1, 10, "one leader in the metrics")
        assert metric(scraped(), "baodao_scheduler_leader_present") == 1

        # Stopped as systemd stops it, the last one lets the lock go: no scheduler leads any more.
        standby.stop(signal.SIGTERM)
        assert standby.process.returncode == 0, standby.output()[-2000:]
        text = scraped()
        assert metric(text, "baodao_scheduler_leader") == 0
        assert metric(text, "baodao_scheduler_leader_present") == 0
    finally:
        for process in schedulers:
            process.stop(signal.SIGKILL)
