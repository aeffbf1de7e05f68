"""Real server processes for the deployment tests: gunicorn serving the app (as deploy/ runs it), Debian's
nginx in front of it, and the scheduler; each a subprocess on ports of its own, its output kept in a file."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
REDIS_URL = "redis://127.0.0.1:6379/14"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_redis():
    """A unique rate-limit key prefix in Redis database 14 (removed again by ``forget_redis_keys``)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"needs Redis at {REDIS_URL} (the machine's redis-server)")
    return f"baodao-test-{uuid.uuid4().hex[:12]}"


def forget_redis_keys(prefix):
    import redis

    store = redis.Redis.from_url(REDIS_URL)
    for key in store.scan_iter(match=f"*{prefix}*", count=500):
        store.delete(key)


def production_env(database_url, tmp, **overrides):
    """The environment of a production process: the tests' keys (tokens minted by the test process are valid
    there), JSON logs, no scheduler inside the web process."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST", "COV_"))}
    env.update({
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": "https://baodao.test",
        "INSTANCE_PATH": str(tmp),
        "LOG_FORMAT": "json",
        "SCHEDULER_ENABLED": "false",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
    })
    env.update({name: str(value) for name, value in overrides.items()})
    return env


class Process:
    """A subprocess whose stdout and stderr go to one file, ended (and waited for) by ``stop``."""

    def __init__(self, args, env, log_path, cwd=ROOT):
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(args, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    @property
    def pid(self):
        return self.process.pid

    def output(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self):
        return self.process.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.alive():
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()


def wait_for(url, process, timeout=30, **kwargs):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{url}: the server exited:\n{process.output()[-3000:]}")
        try:
            requests.get(url, timeout=2, **kwargs)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s:\n{process.output()[-3000:]}")


def start_gunicorn(port, env, log_path):
    """gunicorn as deploy/baodao-web.service runs it: gunicorn.conf.py from the working directory, wsgi:app."""
    server = Process([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "wsgi:app"], env, log_path)
    wait_for(f"http://127.0.0.1:{port}/livez", server)
    return server


def flask_command(env, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@contextmanager
def scratch_postgres_database(server_url, purpose):
    """A new, empty PostgreSQL database on the server of ``server_url`` (dropped afterwards): its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url.replace("postgresql+psycopg://", "postgresql://"))
    name = f"baodao_{purpose}_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
