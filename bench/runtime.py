"""What the benchmarks (and the robustness tests) share: the app on a chosen database, a real gunicorn server in a
subprocess, tokens minted in-process, wall-clock timing with percentiles, and peak memory sampling."""

import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BENCH_DB = "postgresql://postgres@127.0.0.1/baodao_bench"


def bench_database_url(database_url=None):
    """``database_url``, else ``BENCH_DATABASE_URL``, else the bench PostgreSQL database."""
    return database_url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_BENCH_DB


def bench_app(database_url=None, **config):
    """The app bound to the bench database (see ``bench_database_url``)."""
    from app import create_app
    from config import normalise_database_url

    url = normalise_database_url(bench_database_url(database_url))
    create_postgresql_database(url)
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SCHEDULER_ENABLED": False,
                       "WECHAT_APPID": None, "WECHAT_SECRET": None, **config})


def create_postgresql_database(url):
    """Create the PostgreSQL database of ``url`` if the server does not have it yet (a new machine's first run)."""
    from sqlalchemy import create_engine, make_url, text

    target = make_url(url)
    if target.get_backend_name() != "postgresql":
        return
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                       {"name": target.database})
            if not exists:
                connection.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    finally:
        server.dispose()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mint_access_token(user_id, session_id):
    """An access token for ``user_id`` bound to an existing ``AuthSession`` (needs an app context)."""
    from services.auth import access_token

    return access_token(user_id, session_id)


LOCAL_REDIS = "redis://127.0.0.1:6379/13"


class Server:
    """``gunicorn wsgi:app`` with the production settings of ``gunicorn.conf.py`` on a free local port, in its own
    process group, on ``database_url``; ``workers`` and ``threads`` override the settings when given."""

    def __init__(self, database_url, workers=None, env=None, log_path=None, threads=None, app_module="wsgi:app"):
        self.database_url = database_url
        self.app_module = app_module
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.log_path = log_path
        self.process = None

    def start(self, timeout=30):
        # Several workers must share their rate limits (gunicorn.conf.py refuses to start them otherwise).
        env = {**os.environ, "DATABASE_URL": self.database_url, "SCHEDULER_ENABLED": "false",
               "PYTHONUNBUFFERED": "1", "REDIS_URL": os.environ.get("REDIS_URL") or LOCAL_REDIS, **self.extra_env}
        env.pop("WECHAT_APPID", None)
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        command = [gunicorn, "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{self.port}",
                   "--log-level", "warning"]
        if self.workers:
            command += ["-w", str(self.workers)]
        if self.threads:
            command += ["--threads", str(self.threads)]
        command.append(self.app_module)
        log = open(self.log_path or os.devnull, "ab")  # noqa: SIM115  (closed with the process)
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log,
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode} (log: {self.log_path})")
            try:
                if requests.get(self.url + "/healthz", timeout=3).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not answer /healthz in time")

    def kill(self):
        """SIGKILL the whole process group: master and workers die mid-request, nothing is flushed."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def timings_ms(call, repeat, warmup=3):
    """Run ``call(i)`` ``repeat`` times after ``warmup`` runs; p50, p99, mean and max in milliseconds."""
    for i in range(warmup):
        call(i)
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - started) * 1000)
    return {"n": repeat, "p50_ms": round(percentile(samples, 50), 2), "p99_ms": round(percentile(samples, 99), 2),
            "mean_ms": round(statistics.fmean(samples), 2), "max_ms": round(max(samples), 2)}


def current_rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb():
    """The process's lifetime peak resident set (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def rss_sampler(interval=0.02):
    """Samples the resident set while the block runs: ``{"start_mb", "peak_mb"}`` filled in at the end."""
    result = {"start_mb": current_rss_mb(), "peak_mb": 0.0}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            result["peak_mb"] = max(result["peak_mb"], current_rss_mb())
            stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["peak_mb"] = round(max(result["peak_mb"], current_rss_mb()), 1)
        result["start_mb"] = round(result["start_mb"], 1)


def wrk_path():
    return shutil.which("wrk")


WRK_MISSING = "wrk is not installed: `sudo apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk` (macOS)"
