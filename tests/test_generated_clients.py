"""Clients generated from the served OpenAPI document parse every real answer (contract v1.1, "Fixes to v1
readings"): a Python client made by openapi-python-client drives a real flow over HTTP, and TypeScript types made by
openapi-typescript type-check the mini-program's kind of code with ``tsc --strict``."""

import importlib
import io
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
import zxingcpp
from PIL import Image

from clock import utcnow
from extensions import db
from tests.factories import make_member, make_report, make_staff, region_tree

HERE = Path(__file__).parent
TYPESCRIPT = HERE / "typescript"
# The generator's own settings, as a client team would keep them: binary answers as bytes, no formatting hooks.
PYTHON_CLIENT_CONFIG = """\
project_name_override: baodao_client
package_name_override: baodao_client
post_hooks: []
content_type_overrides:
  image/png: application/octet-stream
  application/pdf: application/octet-stream
  application/zip: application/octet-stream
  text/csv: application/octet-stream
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: application/octet-stream
  text/html: text/plain
"""


@pytest.fixture(scope="module")
def document_path(live_server, tmp_path_factory):
    path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    path.write_bytes(requests.get(f"{live_server}/api/v1/openapi.json", timeout=30).content)
    return path


@pytest.fixture(scope="module")
def baodao_client(document_path, tmp_path_factory):
    """The Python client generated from the served document, imported."""
    out = tmp_path_factory.mktemp("python-client")
    config = out / "config.yaml"
    config.write_text(PYTHON_CLIENT_CONFIG)
    generator = Path(sys.executable).parent / "openapi-python-client"
    result = subprocess.run([str(generator), "generate", "--path", str(document_path), "--meta", "none",
                             "--output-path", str(out / "baodao_client"), "--config", str(config)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Cannot parse" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("baodao_client")
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == "baodao_client" or n.startswith("baodao_client.")]:
            del sys.modules[name]


def _api(tag, operation):
    return importlib.import_module(f"baodao_client.api.{tag}.{operation}")


def _models():
    return importlib.import_module("baodao_client.models")


def test_a_generated_python_client_drives_a_real_flow(baodao_client, live_server):
    tree = region_tree()
    admin = make_staff("district_admin", tree["district"])
    member = make_member("王伟")
    report = make_report(member, tree["a1"], status="pending")
    db.session.commit()
    models = _models()

    anonymous = baodao_client.Client(base_url=live_server)
    tokens = _api("auth", "password_login").sync(
        client=anonymous, body=models.PasswordLoginInput(username=admin.username, password="password123"))
    assert isinstance(tokens, models.Tokens) and tokens.user.username == admin.username
    staff = baodao_client.AuthenticatedClient(base_url=live_server, token=tokens.access_token)

    regions = _api("regions", "list_regions").sync(client=staff, per_page=100)
    assert isinstance(regions, models.RegionPage) and regions.total == 7

    starts = utcnow() + timedelta(hours=1)
    activity = _api("activities", "create_activity").sync(client=staff, body=models.ActivityInput(
        community_id=tree["a1"].id, title="清理楼道杂物", category=models.ActivityInputCategory.ENVIRONMENT,
        starts_at=starts, ends_at=starts + timedelta(hours=2), capacity=5,
        location=models.LocationInput(lat=39.9, lng=116.4)))
    assert isinstance(activity, models.Activity)
    assert (activity.status, activity.signed_up, activity.my_signup) == (models.ActivityStatus.PUBLISHED, 0, None)

    approved = _api("reports", "approve_report").sync(client=staff, report_id=report.id)
    assert isinstance(approved, models.Report) and approved.status == models.ReportStatus.APPROVED
    again = _api("reports", "approve_report").sync_detailed(client=staff, report_id=report.id)
    assert again.status_code == 409 and isinstance(again.parsed, models.ErrorEnvelope)
    assert again.parsed.error.code == "invalid_state"

    entered = _api("records", "create_record").sync(client=staff, body=models.ServiceRecordInput(
        member_id=member.id, community_id=tree["a1"].id, started_at=datetime(2026, 3, 1, 9, 0),
        ended_at=datetime(2026, 3, 1, 11, 0), hours=2.0, description="楼道清理"))
    assert isinstance(entered, models.ServiceRecord) and entered.status == models.ServiceRecordStatus.PENDING
    decided = _api("records", "approve_record").sync(client=staff, record_id=entered.id)
    assert decided.status == models.ServiceRecordStatus.APPROVED and decided.decided_by == admin.id
    listed = _api("records", "list_records").sync(client=staff, community_id=tree["a1"].id)
    assert isinstance(listed, models.ServiceRecordPage) and [r.id for r in listed.items] == [entered.id]

    figures = _api("stats", "overview").sync(client=staff, region_id=tree["district"].id, year=2026,
                                                           fresh=True)
    assert isinstance(figures, models.Overview) and figures.approved_hours == 2.0
    assert {child.region_id for child in figures.children} == {tree["street_a"].id, tree["street_b"].id}

    need = _api("needs", "create_need").sync(client=staff, body=models.NeedInput(
        community_id=tree["a1"].id, title="楼道加装扶手", category="养老", source=models.NeedInputSource.VISIT))
    project = _api("projects", "create_project").sync(client=staff, body=models.ProjectInput(
        community_id=tree["a1"].id, title="扶手进楼", need_ids=[need.id]))
    read = _api("projects", "get_project").sync(client=staff, project_id=project.id)
    assert isinstance(read, models.ProjectDetail) and read.need_ids == [need.id]
    assert read.needs[0].title == "楼道加装扶手"
    assert read.meetings == [] and read.decision_id is None

    token = _api("checkins", "activity_qrcode").sync(client=staff, activity_id=activity.id).token
    png = staff.get_httpx_client().get(f"/api/v1/activities/{activity.id}/qrcode", params={"format": "png"})
    assert png.headers["content-type"] == "image/png"
    [decoded] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert decoded.text == token

    export = _api("records", "export_records").sync(
        client=staff, format_=models.ExportRecordsFormat.CSV)
    text = export.payload.read().decode("utf-8-sig")
    assert text.splitlines()[0].startswith("记录编号") and "王伟" in text


def test_typescript_types_generated_from_the_document_type_check_strictly(document_path, tmp_path):
    tools = TYPESCRIPT / "node_modules" / ".bin"
    if not (tools / "tsc").exists():
        pytest.skip("the npm packages of tests/typescript are not installed (npm ci --prefix tests/typescript; "
                    ".ci/run does it)")
    work = tmp_path / "typescript"
    work.mkdir()
    for name in ("usage.ts", "tsconfig.json"):
        shutil.copy(TYPESCRIPT / name, work / name)
    generated = subprocess.run([str(tools / "openapi-typescript"), str(document_path), "-o", str(work / "baodao.d.ts"),
                                "--default-non-nullable=false"], capture_output=True, text=True, timeout=120)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    checked = subprocess.run([str(tools / "tsc"), "-p", str(work / "tsconfig.json")], capture_output=True,
                             text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
