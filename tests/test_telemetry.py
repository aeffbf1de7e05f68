"""What operators see, in-process: /livez, /readyz and /healthz; /metrics and who may read it; log lines (JSON,
request id, redaction); the client address behind trusted proxies; errors delivered to a (fake) Sentry over HTTP.
The same things through real gunicorn and nginx processes are in test_deploy_nginx.py."""

import io
import json
import logging
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import g, request
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from app import create_app
from clock import utcnow
from extensions import db
from models.notification import OutboundMessage
from services import checkin_tokens
from telemetry import logs
from tests.activity_factories import PLACE, make_activity
from tests.conftest import DATABASE_URL
from tests.factories import auth, make_member, region_tree


def samples(response):
    """``{(name, frozenset(labels)): value}`` of a /metrics answer, parsed by prometheus_client's own parser."""
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def test_livez_answers_without_the_database_and_healthz_keeps_its_contract(client):
    assert client.get("/livez").get_json() == {"status": "ok"}
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok", "database": "ok"}


def test_readyz_wants_the_schema_at_the_migrations_head(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["migrations"] == "ok"
    assert body["revision"] == body["head"] and body["head"]

    head = body["head"]
    db.session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    db.session.commit()
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json() | {"head": None} == {"status": "error", "database": "ok",
                                                        "migrations": "pending", "revision": "0001", "head": None}
    finally:
        db.session.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        db.session.commit()


def test_readyz_and_healthz_answer_503_when_the_database_is_down():
    if not DATABASE_URL.startswith("postgres"):
        down = "sqlite:////nonexistent-dir/baodao.sqlite3"
    else:
        down = "postgresql+psycopg://postgres@127.0.0.1:9/none"
    broken = create_app({"SQLALCHEMY_DATABASE_URI": down, "TESTING": True, "SCHEDULER_ENABLED": False})
    with broken.test_client() as client:
        assert client.get("/healthz").status_code == 503
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["database"] == "error"
        assert client.get("/livez").status_code == 200


def test_metrics_count_requests_per_route_and_status_and_scans(client):
    tree = region_tree()
    activity = make_activity(tree["a1"], starts_at=utcnow() - timedelta(minutes=5), requires_signup=False)
    member = make_member()
    token, _ = checkin_tokens.activity_token(activity)
    rule = "/api/v1/activities/<int:activity_id>"
    before = REGISTRY.get_sample_value("baodao_http_requests_total",
                                       {"endpoint": rule, "method": "GET", "status": "200"}) or 0
    scans = REGISTRY.get_sample_value("baodao_checkins_total", {"action": "check_in"}) or 0

    assert client.get(f"/api/v1/activities/{activity.id}", headers=auth(member)).status_code == 200
    assert client.get(f"/api/v1/activities/{activity.id}", headers=auth(member)).status_code == 200
    assert client.get("/api/v1/activities/999999", headers=auth(member)).status_code == 404
    scan = client.post("/api/v1/checkins", json={"token": token, "lat": PLACE[0], "lng": PLACE[1]},
                       headers=auth(member))
    assert scan.status_code == 201, scan.get_json()
    db.session.add(OutboundMessage(member_id=member.id, key="m1", payload={}, status="pending"))
    db.session.add(OutboundMessage(member_id=member.id, key="m2", payload={}, status="failed"))
    db.session.add(OutboundMessage(member_id=member.id, key="m3", payload={}, status="sent"))
    db.session.commit()

    found = samples(client.get("/metrics"))
    ok = frozenset({"endpoint": rule, "method": "GET", "status": "200"}.items())
    missing = frozenset({"endpoint": rule, "method": "GET", "status": "404"}.items())
    assert found[("baodao_http_requests_total", ok)] == before + 2
    assert found[("baodao_http_requests_total", missing)] >= 1
    assert found[("baodao_http_request_duration_seconds_count", ok)] == before + 2
    assert found[("baodao_checkins_total", frozenset({"action": "check_in"}.items()))] == scans + 1
    assert found[("baodao_outbound_messages", frozenset({"status": "pending"}.items()))] == 1
    assert found[("baodao_outbound_messages", frozenset({"status": "failed"}.items()))] == 1
    assert found[("baodao_database_up", frozenset())] == 1
    assert found[("baodao_scheduler_leader_present", frozenset())] == 0
    # A route with a key in its path is counted under its rule, never under the key itself.
    client.get("/screen/some-signed-link/state")
    names = client.get("/metrics").get_data(as_text=True)
    assert "/screen/<string:signed>/state" in names and "some-signed-link" not in names


def test_metrics_answer_the_loopback_or_the_token_only(client, monkeypatch, app):
    assert client.get("/metrics").status_code == 200
    outside = {"REMOTE_ADDR": "203.0.113.7"}
    response = client.get("/metrics", environ_base=outside)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "metrics_forbidden"
    # Behind a proxy the app was not told to trust, the loopback is the proxy's: a forwarded request is refused.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 403

    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-secret")
    assert client.get("/metrics", environ_base=outside,
                      headers={"Authorization": "Bearer scrape-secret"}).status_code == 200
    assert client.get("/metrics", environ_base=outside,
                      headers={"Authorization": "Bearer wrong"}).status_code == 403


def proxied_app(count):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "TRUSTED_PROXY_COUNT": count,
                      "SCHEDULER_ENABLED": False})

    @app.route("/_test/whoami")
    def whoami():
        return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

    return app


def test_the_client_address_is_read_only_as_far_as_the_trusted_proxies():
    direct = proxied_app(0).test_client()
    body = direct.get("/_test/whoami", headers={"X-Forwarded-For": "198.51.100.1"}).get_json()
    assert body["addr"] == "127.0.0.1"

    one = proxied_app(1).test_client()
    # nginx appends the address it saw; whatever the client wrote before it is not believed.
    body = one.get("/_test/whoami", headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.1", "X-Forwarded-Proto": "https",
                                             "X-Forwarded-Host": "baodao.district.example"}).get_json()
    assert body == {"addr": "198.51.100.1", "scheme": "https", "host": "baodao.district.example"}

    two = proxied_app(2).test_client()
    body = two.get("/_test/whoami", headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.1, 10.0.0.2"}).get_json()
    assert body["addr"] == "198.51.100.1"


def test_redaction_removes_screen_links_verify_codes_and_query_strings():
    line = ('"GET /screen/eyJhIjoxfQ.abc-DEF_1/state HTTP/1.1" 200; /screen/eyJhIjoxfQ.abc/qrcode.png?v=tok; '
            'GET /api/v1/certificates/verify/91NDxdVYi4F5i6IzjVk3 ; /api/v1/units?q=王')
    redacted = logs.redact(line)
    for secret in ("eyJhIjoxfQ", "abc-DEF_1", "91NDxdVYi4F5i6IzjVk3", "v=tok", "王"):
        assert secret not in redacted
    assert "/screen/[redacted]/state" in redacted and "/certificates/verify/[redacted]" in redacted
    assert "/api/v1/units?[redacted]" in redacted


def test_json_log_lines_carry_the_request_id_and_no_key(app, client, monkeypatch):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    logger = logging.getLogger("baodao.errors")
    logger.addHandler(handler)
    monkeypatch.setattr(logger, "level", logging.INFO)
    try:
        logger.warning("outside any request")
        with app.test_request_context("/screen/signed-link-value/state"):
            g.request_id = "abc123"
            logger.warning("failed on %s", request.path)
            try:
                raise RuntimeError("while reading /api/v1/certificates/verify/CODE42")
            except RuntimeError:
                logger.exception("crash")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == [None, "abc123", "abc123"]
    assert lines[1]["message"] == "failed on /screen/[redacted]/state"
    assert lines[1]["level"] == "warning" and lines[1]["logger"] == "baodao.errors" and lines[1]["time"]
    assert "CODE42" not in lines[2]["exception"] and "RuntimeError" in lines[2]["exception"]
    assert "signed-link-value" not in stream.getvalue()


class FakeSentry(BaseHTTPRequestHandler):
    """A Sentry server's envelope endpoint: keeps what it was sent."""

    received = []
    arrived = threading.Event()

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            import gzip

            body = gzip.decompress(body)
        FakeSentry.received.append((self.path, body.decode("utf-8", "replace")))
        FakeSentry.arrived.set()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args):
        pass


@pytest.fixture
def fake_sentry():
    import sentry_sdk

    FakeSentry.received.clear()
    FakeSentry.arrived.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSentry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://publickey@127.0.0.1:{server.server_port}/42"
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: the rest of the session reports nothing
    server.shutdown()


def test_without_a_dsn_nothing_starts():
    import sentry_sdk

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SENTRY_DSN": None})
    assert app.config["SENTRY_DSN"] is None
    assert not sentry_sdk.get_client().is_active()


def test_an_unexpected_error_reaches_sentry_without_personal_data(fake_sentry):
    import sentry_sdk

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SENTRY_DSN": fake_sentry,
                      "SCHEDULER_ENABLED": False})
    # Made at run time: an event carries the source lines around each frame, and a literal there is no leak.
    link, phone, token, id_number = ("-".join(("SIGNED", "LINK", "KEY")), "138" + "12345678", "secret" + "-token",
                                     "110105" + "199001011232")

    @app.route("/screen/<signed>/boom")
    def boom(signed):
        held = id_number  # a local variable that must not travel
        raise RuntimeError(f"unexpected failure {len(held)}")

    response = app.test_client().get(f"/screen/{link}/boom?phone={phone}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 500 and response.get_json()["error"]["code"] == "internal_error"
    sentry_sdk.flush(10)
    assert FakeSentry.arrived.wait(10), "nothing reached the fake Sentry"
    path, body = FakeSentry.received[0]
    assert path == "/api/42/envelope/"
    assert "RuntimeError" in body and "unexpected failure 18" in body
    for secret in (link, phone, token, id_number):
        assert secret not in body, secret
