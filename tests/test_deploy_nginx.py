"""deploy/nginx.conf in Debian's real nginx, with TLS, in front of real gunicorn (gunicorn.conf.py, two workers,
production settings, TRUSTED_PROXY_COUNT=1) serving the app on the test database: rate limits count per real
client and never per address a client wrote itself; an export streams through; the organiser's screen works
through it in Chromium; every log line (gunicorn's and nginx's) is JSON with a request id and no key; the
metrics add up both workers.

Each client is a loopback address of its own (127.0.0.2, 127.0.0.3 ...): nginx sees a different peer for each,
as it would for two phones."""

import csv
import io
import ipaddress
import json
import re
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from requests.adapters import HTTPAdapter

from clock import utcnow
from extensions import db
from models import ServiceRecord
from tests.conftest import DATABASE_URL
from tests.factories import auth, make_member, make_staff, region_tree
from tests.servers import (
    NGINX,
    ROOT,
    Process,
    forget_redis_keys,
    free_port,
    production_env,
    require_redis,
    start_gunicorn,
    wait_for,
)
from tests.test_screen import make_activity

if NGINX is None:
    pytest.skip("needs Debian's nginx: `apt-get install -y nginx` (.ci/run installs it)", allow_module_level=True)

METRICS_TOKEN = "metrics-token-for-tests"
REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def self_signed_certificate(directory):
    """A certificate for 127.0.0.1 (and its key) made here: the placeholders' stand-ins."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "baodao.test")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
                   .not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    (directory / "baodao.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "baodao.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    return directory / "baodao.crt"


def render_site(upstream_ports, http_port, https_port, directory):
    """deploy/nginx.conf with its placeholders, and only those, replaced for this machine."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    servers = "".join(f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n" for port in upstream_ports)
    replacements = (
        (r"    server 10\.0\.0\.11:8000 [^\n]*\n    server 10\.0\.0\.12:8000 [^\n]*\n", servers, 1),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};", 1),
        (r" *listen \[::\]:80;\n", "", 1),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;", 1),
        (r" *listen \[::\]:443 ssl http2;\n", "", 1),
        (r"/etc/nginx/tls/", f"{directory}/", 2),
        (r"/var/log/nginx/", f"{directory}/", 2),
    )
    for pattern, replacement, expected in replacements:
        conf, count = re.subn(pattern, replacement, conf)
        assert count == expected, f"deploy/nginx.conf changed: {pattern!r} matched {count} times"
    return conf


def main_config(directory):
    """What Debian's /etc/nginx/nginx.conf provides around conf.d/, pointed at the test's own directory."""
    paths = "".join(f"    {kind}_temp_path {directory}/{kind}_temp;\n"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"daemon off;\nworker_processes 2;\npid {directory}/nginx.pid;\nerror_log {directory}/error.log info;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n{paths}"
            f"    include {directory}/baodao.conf;\n}}\n")


@pytest.fixture(scope="module")
def stack(app):
    """gunicorn, and nginx in front of it: ``{"nginx", "gunicorn", "ca", "dir", ...}``."""
    prefix = require_redis()
    # Readable by nginx's workers (nobody), unlike pytest's own temporary directories.
    directory = Path(tempfile.mkdtemp(prefix="baodao-nginx-"))
    directory.chmod(0o755)
    http_port, https_port, web_port = free_port(), free_port(), free_port()
    nginx_url = f"https://127.0.0.1:{https_port}"
    (directory / "metrics").mkdir()
    env = production_env(DATABASE_URL, directory, TRUSTED_PROXY_COUNT=1, PUBLIC_BASE_URL=nginx_url,
                         REDIS_URL="redis://127.0.0.1:6379/14", RATELIMIT_KEY_PREFIX=prefix,
                         PROMETHEUS_MULTIPROC_DIR=directory / "metrics", METRICS_TOKEN=METRICS_TOKEN)
    gunicorn = start_gunicorn(web_port, env, directory / "gunicorn.log")
    ca = self_signed_certificate(directory)
    (directory / "baodao.conf").write_text(render_site([web_port], http_port, https_port, directory))
    (directory / "nginx.conf").write_text(main_config(directory))
    nginx = Process([NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf")], None,
                    directory / "nginx.out")
    try:
        wait_for(f"{nginx_url}/livez", nginx, verify=str(ca))
    except RuntimeError:
        gunicorn.stop()
        raise RuntimeError((directory / "error.log").read_text()[-3000:]) from None
    yield {"nginx": nginx_url, "http": f"http://127.0.0.1:{http_port}", "gunicorn": f"http://127.0.0.1:{web_port}",
           "ca": str(ca), "dir": directory, "gunicorn_process": gunicorn}
    nginx.stop(timeout=10)
    gunicorn.stop()
    forget_redis_keys(prefix)
    shutil.rmtree(directory, ignore_errors=True)


class FromAddress(HTTPAdapter):
    """Connections from one loopback address: one client, as nginx sees it."""

    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


class Client(requests.Session):
    """A session trusting the tests' certificate on every request (a session-wide ``verify`` loses to
    REQUESTS_CA_BUNDLE in requests)."""

    def __init__(self, address, ca):
        super().__init__()
        self.ca = ca
        self.mount("https://", FromAddress(address))
        self.mount("http://", FromAddress(address))

    def request(self, *args, **kwargs):
        kwargs.setdefault("verify", self.ca)
        return super().request(*args, **kwargs)


def client_at(address, stack):
    return Client(address, stack["ca"])


def test_plain_http_is_sent_to_https(stack):
    response = requests.get(stack["http"] + "/healthz", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"].startswith("https://")


def test_limits_count_per_real_client_and_never_per_a_forwarded_for_it_wrote(stack):
    first, second = client_at("127.0.0.2", stack), client_at("127.0.0.3", stack)
    verify = stack["nginx"] + "/api/v1/certificates/verify/no-such-code"
    # The limit is 30 a minute; each request claims to come from somewhere else, and nginx's word wins.
    statuses = [first.get(verify, headers={"X-Forwarded-For": f"198.51.100.{n}"}, timeout=10).status_code
                for n in range(31)]
    assert statuses[:30] == [404] * 30 and statuses[30] == 429
    assert first.get(verify, headers={"X-Forwarded-For": "203.0.113.99"}, timeout=10).status_code == 429
    # Another phone behind the same nginx has a bucket of its own.
    assert second.get(verify, timeout=10).status_code == 404
    # The app saw the real scheme through nginx: a 301 is not needed, and links are https.
    assert second.get(stack["nginx"] + "/healthz", timeout=10).json() == {"status": "ok", "database": "ok"}


def test_an_export_streams_through_nginx(stack):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member = make_member()
    start = datetime(2026, 3, 1, 1, tzinfo=UTC)
    rows = 3000
    db.session.add_all([ServiceRecord(member_id=member.id, community_id=tree["a1"].id, category="order",
                                      started_at=start + timedelta(minutes=n),
                                      ended_at=start + timedelta(minutes=n + 60), hours=Decimal("1.00"),
                                      status="approved", source="manual", description=f"值守 {n}")
                        for n in range(rows)])
    db.session.commit()
    headers = auth(admin)
    db.session.commit()

    with client_at("127.0.0.4", stack).get(stack["nginx"] + "/api/v1/service-records/export?format=csv",
                                           headers=headers, stream=True, timeout=60) as response:
        assert response.status_code == 200, response.text[:500]
        assert response.headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in response.headers
        assert "service-records.csv" in response.headers["Content-Disposition"]
        assert REQUEST_ID.match(response.headers["X-Request-ID"])
        chunks = [chunk for chunk in response.iter_content(chunk_size=None) if chunk]
    assert len(chunks) > 1, "the export arrived in one piece: nginx buffered it"
    table = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))
    assert len(table) == rows + 1
    # Unbuffered: nginx never spooled the download to disk.
    assert not any((stack["dir"] / "proxy_temp").rglob("*.*"))


def test_the_organisers_screen_works_through_nginx(stack):
    from tests.browser import require_chromium, start_chromium

    require_chromium()
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.test_screen_browser import qr_on_screen

    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    activity = make_activity(tree["a1"], utcnow() - timedelta(minutes=10), utcnow() + timedelta(hours=1),
                             title="社区垃圾分类宣传日")
    member = make_member()
    staff_headers, member_headers = auth(admin), auth(member)
    db.session.commit()
    link = client_at("127.0.0.5", stack).post(f"{stack['nginx']}/api/v1/activities/{activity.id}/screen",
                                              headers=staff_headers, timeout=10)
    assert link.status_code == 200, link.text
    url = link.json()["url"]
    assert url.startswith(stack["nginx"] + "/screen/")  # PUBLIC_BASE_URL: the https origin nginx serves

    browser = start_chromium(insecure_tls=True)
    try:
        browser.get(url)
        token = WebDriverWait(browser, 20, poll_frequency=0.3).until(qr_on_screen)
        assert browser.find_element("id", "count").text == "0"
        response = client_at("127.0.0.6", stack).post(f"{stack['nginx']}/api/v1/checkins", headers=member_headers,
                                                      json={"token": token, "lat": 39.9, "lng": 116.4}, timeout=30)
        assert response.status_code == 201, response.text
        WebDriverWait(browser, 15, poll_frequency=0.3).until(lambda d: d.find_element("id", "count").text == "1")
        assert not browser.find_element("id", "offline").is_displayed()
    finally:
        browser.quit()
    assert urlparse(url).path.split("/")[2] not in (stack["dir"] / "baodao.access.log").read_text()


def test_every_log_line_is_json_with_a_request_id_and_no_key(stack):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    activity = make_activity(tree["a1"], utcnow() - timedelta(minutes=10), utcnow() + timedelta(hours=1))
    headers = auth(admin)
    db.session.commit()
    client = client_at("127.0.0.7", stack)
    signed = urlparse(client.post(f"{stack['nginx']}/api/v1/activities/{activity.id}/screen", headers=headers,
                                  timeout=10).json()["url"]).path.split("/")[2]
    assert client.get(f"{stack['nginx']}/screen/{signed}/state", timeout=10).status_code == 200
    assert client.get(f"{stack['nginx']}/screen/{signed}/qrcode.png", timeout=10).status_code == 200
    code = "VerifyCodeThatMustNotBeLogged"
    assert client.get(f"{stack['nginx']}/api/v1/certificates/verify/{code}", timeout=10).status_code == 404
    answered = client.get(f"{stack['nginx']}/api/v1/units?q=秘密搜索", headers=headers, timeout=10)
    time.sleep(0.5)  # gunicorn writes the access line after the answer

    gunicorn_lines = stack["gunicorn_process"].output().splitlines()
    nginx_lines = (stack["dir"] / "baodao.access.log").read_text().splitlines()
    for line in gunicorn_lines + nginx_lines:
        json.loads(line)  # one JSON object per line, every line
        for secret in (signed, code, "秘密搜索"):
            assert secret not in line, line
    access = [json.loads(line) for line in gunicorn_lines if '"gunicorn.access"' in line]
    state = [entry for entry in access if entry["path"] == "/screen/[redacted]/state"]
    assert state and all(REQUEST_ID.match(entry["request_id"]) for entry in access)
    assert {"method", "status", "duration_ms"} <= set(state[-1])
    logged = [json.loads(line) for line in nginx_lines]
    assert {"/screen/[redacted]/state", "/screen/[redacted]/qrcode.png",
            "/api/v1/certificates/verify/[redacted]"} <= {entry["path"] for entry in logged}
    # nginx and the app log one request under one id.
    assert answered.headers["X-Request-ID"] in {entry["request_id"] for entry in logged}
    assert answered.headers["X-Request-ID"] in {entry["request_id"] for entry in access}


def metric(text, name, **labels):
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def test_metrics_add_up_both_workers_and_are_not_for_the_outside(stack):
    direct = stack["gunicorn"]
    before = metric(requests.get(direct + "/metrics", timeout=10).text, "baodao_http_requests_total",
                    endpoint="/readyz", status="200") or 0
    for _ in range(24):
        # A new connection each: gunicorn's workers take them in turn.
        with requests.Session() as fresh:
            assert fresh.get(direct + "/readyz", timeout=10).status_code == 200
    text = requests.get(direct + "/metrics", timeout=10).text
    assert metric(text, "baodao_http_requests_total", endpoint="/readyz", status="200") == before + 24
    writers = {re.search(r"_(\d+)\.db$", path.name).group(1)
               for path in (stack["dir"] / "metrics").glob("counter_*.db")}
    assert len(writers) >= 2, "only one worker answered: the sum proves nothing"

    outside = client_at("127.0.0.8", stack)
    assert outside.get(stack["nginx"] + "/metrics", timeout=10).status_code == 403  # nginx: not this address
    assert outside.get(stack["nginx"] + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                       timeout=10).status_code == 403
    local = client_at("127.0.0.1", stack).get(stack["nginx"] + "/metrics", timeout=10)
    assert local.status_code == 200 and "baodao_http_requests_total" in local.text
