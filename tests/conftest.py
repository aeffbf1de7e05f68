"""Fixtures: one app per test session on SQLite or, with TEST_DATABASE_URL, PostgreSQL; every test starts
from empty tables; a live HTTP server and a fake WeChat server for tests that need real requests."""

import contextvars
import json
import os
import tempfile
import threading
import uuid
from contextlib import contextmanager

import pytest

_tmp = tempfile.mkdtemp(prefix="baodao-tests-")
os.environ.setdefault("INSTANCE_PATH", _tmp)
os.environ.setdefault("SECRET_KEY", "test-secret")
os.environ.setdefault("JWT_SECRET_KEY", "test-jwt-secret-with-enough-length-for-hs256")
os.environ.setdefault("PII_ENCRYPTION_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")

from flask import current_app  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import MetaData, create_engine, event, make_url, text  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from config import normalise_database_url  # noqa: E402
from extensions import db, limiter  # noqa: E402
from tests.fake_wechat import FakeWeChat, serve  # noqa: E402

DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{_tmp}/test.sqlite3"
ON_POSTGRES = DATABASE_URL.startswith(("postgres", "postgresql"))

postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (set TEST_DATABASE_URL)")


@pytest.fixture(scope="session")
def fake_wechat_server():
    fake = FakeWeChat()
    server = serve(fake)
    yield fake, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def fake_wechat(fake_wechat_server):
    fake, _ = fake_wechat_server
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture(scope="session")
def app(fake_wechat_server):
    _, wechat_url = fake_wechat_server
    app = create_app({
        "TESTING": True,
        "CHECK_DUMPS": True,  # every answer's planned dump is checked against marshmallow's (api/dumping.py)
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(DATABASE_URL),
        "WECHAT_APPID": "wx-test-app",
        "WECHAT_SECRET": "wx-test-secret",
        "WECHAT_API_BASE": wechat_url,
        "WECHAT_TIMEOUT_SECONDS": 1.0,
        "WECHAT_REMINDER_TEMPLATE_ID": "tmpl-shift-reminder",
        "WECHAT_PUSH_TOKEN": "test-push-token",
        "UPLOAD_FOLDER": os.path.join(_tmp, "uploads"),
        "SCHEDULER_ENABLED": False,
        "PUBLIC_BASE_URL": "https://baodao.test",
    })
    with app.app_context():
        # Every table there is, also those of models that no longer exist (a test database of an older checkout).
        existing = MetaData()
        existing.reflect(bind=db.engine)
        existing.drop_all(bind=db.engine)
        db.create_all()
        stamp_migrations_head()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def stamp_migrations_head():
    """The tables come from the models (test_migrations.py proves the migrations make the same ones): record them as
    at the migrations' head, as ``db upgrade`` would, so /readyz finds the schema ready."""
    from telemetry.readiness import migration_heads

    heads = migration_heads(current_app.extensions["migrate"].directory)
    db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.session.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    for head in heads:
        db.session.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head})
    db.session.commit()


def _empty_all_tables():
    tables = list(reversed(db.metadata.sorted_tables))
    if ON_POSTGRES:
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture(autouse=True)
def app_ctx(app):
    """Each test runs in an app context and starts from empty tables and fresh rate limits."""
    with app.app_context():
        yield
        db.session.remove()
        _empty_all_tables()
        db.session.remove()
    limiter.reset()


class ProductionLikeClient(FlaskClient):
    """Each test request runs as a real one does: in an application context of its own, with its own database
    session, ended by the app's unit of work (committed when the view returns, rolled back when it raises) and
    removed when the request ends. Nothing the test client does commits a request's work.

    The test's own session is the test's business: what the test set up is committed before the request (on SQLite
    an open transaction would hold the write lock), and read afresh after it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.streamed = []  # answers read chunk by chunk, closed by the ``client`` fixture at the end

    def open(self, *args, **kwargs):
        db.session.commit()
        # An empty context: Flask finds no application context and pushes the request's own, as in production.
        request_context = contextvars.Context()
        response = request_context.run(super().open, *args, **kwargs)
        if response.is_streamed:
            response.response = _read_in(request_context, response.response)
            self.streamed.append(response)
        db.session.expire_all()
        return response


def _read_in(context, body):
    """A streamed body read chunk by chunk inside the request's own context, and closed there (which ends the
    request, as the server does once the last chunk is sent)."""
    chunks = iter(body)
    try:
        while True:
            try:
                yield context.run(next, chunks)
            except StopIteration:
                return
    finally:
        if hasattr(body, "close"):
            context.run(body.close)


@pytest.fixture
def client(app):
    app.test_client_class = ProductionLikeClient
    client = app.test_client()
    yield client
    # A server closes every answer, read to its end or not; so does the test, even when it stopped half-way.
    for response in client.streamed:
        response.close()


@pytest.fixture
def count_queries(app):
    """``with count_queries() as counted:`` counts the SQL statements sent to the database inside the block
    (``counted.total``), whichever session or connection sends them."""

    class Counted:
        total = 0

    @contextmanager
    def counting():
        counted = Counted()

        def count(*_args):
            counted.total += 1

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            yield counted
        finally:
            event.remove(db.engine, "before_cursor_execute", count)

    return counting


@pytest.fixture
def calendar_file(app, tmp_path):
    """Point HOLIDAY_CALENDAR_FILE at a file the test writes; the app's own calendar again afterwards."""
    from services import holidays

    path = tmp_path / "calendar.json"

    def use(content):
        path.write_text(json.dumps(content), encoding="utf-8")
        app.config["HOLIDAY_CALENDAR_FILE"] = str(path)
        holidays.configure(app)

    yield use
    app.config["HOLIDAY_CALENDAR_FILE"] = None
    holidays.configure(app)


@pytest.fixture(scope="session")
def live_server(app):
    """The app behind a real threaded HTTP server, for concurrency tests."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def fire_at_once(count, request):
    """Run ``request(i)`` in ``count`` threads released together; returns the results in order."""
    # End the test's own transaction first: on SQLite an open one would hold the write lock.
    db.session.commit()
    barrier = threading.Barrier(count)
    results = [None] * count
    errors = []

    def run(i):
        barrier.wait()
        try:
            results[i] = request(i)
        except Exception as exc:  # surfaced below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def empty_database_url(tmp_path):
    """The URL of a database with nothing in it, for migrations to run on: a SQLite file, or a fresh PostgreSQL
    database beside the test database, dropped afterwards."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    url = make_url(normalise_database_url(DATABASE_URL))
    name = f"{url.database}_empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
