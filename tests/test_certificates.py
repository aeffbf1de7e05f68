"""Certificates (志愿服务证明): the issuer rule, immutability, the PDF, verification, the batch zip and the CLI."""

import io
import re
import zipfile
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pypdfium2
import requests
import zxingcpp
from pypdf import PdfReader
from sqlalchemy import func, select

from extensions import db
from models import Activity, Certificate, Post, ServiceRecord, Shift
from services.members import set_id_number
from tests.conftest import fire_at_once
from tests.factories import auth, error_code, make_member, make_staff, region_tree

LOCAL = ZoneInfo("Asia/Shanghai")
ID_NUMBER = "110105199003071239"
PERIOD = {"from": "2025-03-01", "to": "2025-03-31"}


def at(day, hour=9, minute=0):
    return datetime(2025, 3, day, hour, minute, tzinfo=LOCAL) if isinstance(day, int) else day


def make_activity(community, title="社区清洁日"):
    activity = Activity(community_id=community.id, title=title, category="environment",
                        starts_at=at(1), ends_at=at(1, 11), capacity=20)
    db.session.add(activity)
    db.session.commit()
    return activity


def make_record(member, community, started_at, hours, status="approved", activity=None, shift=None, description=None):
    started_at = at(started_at)
    record = ServiceRecord(member_id=member.id, community_id=community.id, started_at=started_at,
                           ended_at=started_at.replace(hour=min(started_at.hour + 4, 23)), hours=Decimal(hours),
                           status=status, activity_id=activity.id if activity else None,
                           shift_id=shift.id if shift else None, description=description)
    db.session.add(record)
    db.session.commit()
    return record


def issue(client, user, issuer, member=None, period=PERIOD):
    body = {"issuer_id": issuer.id, **period}
    if member is not None:
        body["member_id"] = member.id
    return client.post("/api/v1/certificates", json=body, headers=auth(user))


def pdf_text(pdf):
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_certificate_counts_only_approved_hours_of_the_issuing_community_within_the_period(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member = make_member("张三")
    cleanup = make_activity(tree["a1"], "社区清洁日")
    make_record(member, tree["a1"], 3, "2.50", activity=cleanup)
    make_record(member, tree["a1"], at(31, 23, 30), "0.75", description="夜间巡逻")  # last local day counts
    make_record(member, tree["a2"], 4, "3.00")  # another community's hours
    make_record(member, tree["a1"], 5, "4.00", status="pending")
    make_record(member, tree["a1"], 6, "6.00", status="rejected")
    make_record(member, tree["a1"], datetime(2025, 4, 1, 0, 10, tzinfo=LOCAL), "5.00")  # the day after the period
    make_record(member, tree["a1"], datetime(2025, 2, 28, 23, 50, tzinfo=LOCAL), "7.00")  # the day before

    response = issue(client, admin, tree["a1"], member)

    assert response.status_code == 201
    body = response.get_json()
    assert body["total_hours"] == 3.25
    assert re.fullmatch(rf"BD{tree['a1'].id:04d}-\d{{8}}-0001", body["number"])
    assert len(body["verify_code"]) >= 24
    assert body["pdf_url"] == f"/api/v1/certificates/{body['id']}/pdf"
    assert body["verify_url"] == f"https://baodao.test/api/v1/certificates/verify/{body['verify_code']}"
    certificate = db.session.get(Certificate, body["id"])
    assert certificate.issued_by == admin.id and certificate.issued_at is not None
    assert certificate.member_id == member.id and certificate.issuer_id == tree["a1"].id
    assert [(r["date"], r["title"], r["hours"]) for r in certificate.snapshot["records"]] == [
        ("2025-03-03", "社区清洁日", "2.50"), ("2025-03-31", "夜间巡逻", "0.75")]


def test_a_shift_record_is_listed_under_its_post(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member = make_member("李四")
    post = Post(community_id=tree["a1"].id, name="3号楼垃圾分类桶站", kind="bin_station")
    db.session.add(post)
    db.session.flush()
    shift = Shift(post_id=post.id, starts_at=at(7), ends_at=at(7, 11), seats=2)
    db.session.add(shift)
    db.session.commit()
    make_record(member, tree["a1"], 7, "2.00", shift=shift)

    body = issue(client, admin, tree["a1"], member).get_json()

    records = db.session.get(Certificate, body["id"]).snapshot["records"]
    assert [r["title"] for r in records] == ["3号楼垃圾分类桶站"]


def test_admin_of_another_community_cannot_issue_in_its_name(client):
    tree = region_tree()
    member = make_member()
    make_record(member, tree["a1"], 3, "2.00")

    response = issue(client, make_staff("community_admin", tree["b1"]), tree["a1"], member)

    assert response.status_code == 404
    assert error_code(response) == "region_not_found"
    assert issue(client, make_staff("street_admin", tree["street_b"]), tree["a1"], member).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 0
    assert issue(client, make_staff("street_admin", tree["street_a"]), tree["a1"], member).status_code == 201


def test_member_asks_for_its_own_certificate_and_cannot_read_anothers(client):
    tree = region_tree()
    member, other = make_member("王五"), make_member("赵六")
    make_record(member, tree["a1"], 3, "2.00")
    make_record(other, tree["a1"], 3, "1.00")

    own = issue(client, member, tree["a1"])
    assert own.status_code == 201
    certificate_id = own.get_json()["id"]
    assert db.session.get(Certificate, certificate_id).member_id == member.id

    assert client.get(f"/api/v1/certificates/{certificate_id}", headers=auth(member)).status_code == 200
    assert client.get(f"/api/v1/certificates/{certificate_id}/pdf", headers=auth(member)).status_code == 200
    for path in (f"/api/v1/certificates/{certificate_id}", f"/api/v1/certificates/{certificate_id}/pdf"):
        response = client.get(path, headers=auth(other))
        assert response.status_code == 404
        assert error_code(response) == "certificate_not_found"
    listed = client.get("/api/v1/certificates", headers=auth(other)).get_json()
    assert listed["total"] == 0

    # A member may never issue for somebody else.
    response = issue(client, member, tree["a1"], other)
    assert response.status_code == 403
    assert issue(client, other, tree["a1"], other).status_code == 201


def test_staff_see_certificates_issued_within_their_scope_only(client):
    tree = region_tree()
    member = make_member()
    make_record(member, tree["a1"], 3, "2.00")
    certificate_id = issue(client, member, tree["a1"]).get_json()["id"]

    street_a = make_staff("street_admin", tree["street_a"])
    assert client.get(f"/api/v1/certificates/{certificate_id}", headers=auth(street_a)).status_code == 200
    assert client.get("/api/v1/certificates", headers=auth(street_a)).get_json()["total"] == 1
    admin_b = make_staff("community_admin", tree["b1"])
    assert client.get(f"/api/v1/certificates/{certificate_id}", headers=auth(admin_b)).status_code == 404
    assert client.get("/api/v1/certificates", headers=auth(admin_b)).get_json()["total"] == 0


def test_no_approved_hours_in_the_period_is_refused(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member = make_member()
    make_record(member, tree["a1"], 3, "2.00", status="pending")
    make_record(member, tree["a2"], 3, "2.00")

    response = issue(client, admin, tree["a1"], member)

    assert response.status_code == 422
    assert error_code(response) == "no_approved_hours"
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 0


def test_period_and_body_are_validated(client):
    tree = region_tree()
    member = make_member()
    response = issue(client, member, tree["a1"], period={"from": "2025-03-31", "to": "2025-03-01"})
    assert response.status_code == 422
    assert "to" in response.get_json()["error"]["details"]
    response = client.post("/api/v1/certificates", json={"issuer_id": tree["a1"].id, "from": "03/01/2025"},
                           headers=auth(member))
    assert response.status_code == 422
    assert set(response.get_json()["error"]["details"]) == {"from", "to"}
    response = issue(client, member, tree["a1"], period={"from": "0001-01-01", "to": "9999-12-31"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["details"]) == {"from", "to"}
    response = client.post("/api/v1/certificates", json={"issuer_id": 2**63, "member_id": 2**40, **PERIOD},
                           headers=auth(member))
    assert response.status_code == 422
    assert set(response.get_json()["error"]["details"]) == {"issuer_id", "member_id"}
    assert client.get(f"/api/v1/certificates/{2**63}", headers=auth(member)).status_code == 404
    response = issue(client, member, tree["street_a"])  # a street is not a community
    assert response.status_code == 422
    assert "issuer_id" in response.get_json()["error"]["details"]


def test_an_issued_certificate_never_changes_and_a_new_one_can_be_issued(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member = make_member("孙七")
    record = make_record(member, tree["a1"], 3, "2.00")
    first = issue(client, admin, tree["a1"], member).get_json()

    record.hours = Decimal("1.50")  # a later correction
    member.name = "孙七七"
    db.session.commit()

    again = client.get(f"/api/v1/certificates/{first['id']}", headers=auth(admin)).get_json()
    assert again["total_hours"] == 2.0
    text = pdf_text(client.get(first["pdf_url"], headers=auth(admin)).data)
    assert "2.00" in text and "孙七" in text and "孙七七" not in text
    second = issue(client, admin, tree["a1"], member).get_json()
    assert second["total_hours"] == 1.5
    assert second["number"] != first["number"] and second["number"].endswith("-0002")
    assert second["verify_code"] != first["verify_code"]


def test_certificate_pdf_holds_the_facts_embeds_its_fonts_and_carries_the_verify_qr(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member = make_member("欧阳明月")
    set_id_number(member, ID_NUMBER)
    db.session.commit()
    activity = make_activity(tree["a1"], "敬老院义诊")
    make_record(member, tree["a1"], 3, "2.25", activity=activity)
    make_record(member, tree["a1"], 9, "1.50", description="社区图书角整理")
    body = issue(client, admin, tree["a1"], member).get_json()

    response = client.get(body["pdf_url"], headers=auth(admin))

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    pdf = response.data
    text = pdf_text(pdf)
    for expected in ("志愿服务证明", "欧阳明月", member.volunteer_number, body["number"], "a1社区", "3.75",
                     "a1社区居委会", "010-88886666", "敬老院义诊", "社区图书角整理", "2025-03-03", "2025年03月01日",
                     "110105********1239"):
        assert expected in text, expected
    assert ID_NUMBER not in text and ID_NUMBER not in pdf.decode("latin-1")

    fonts = [font.get_object() for page in PdfReader(io.BytesIO(pdf)).pages
             for font in page["/Resources"]["/Font"].values()]
    assert fonts
    for font in fonts:
        descriptor = font["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor, font["/BaseFont"]
        assert "WenQuanYi" in font["/BaseFont"]

    image = pypdfium2.PdfDocument(pdf)[0].render(scale=2).to_pil()
    assert [barcode.text for barcode in zxingcpp.read_barcodes(image)] == [body["verify_url"]]


def test_verify_is_public_and_masks_the_name(client):
    tree = region_tree()
    member = make_member("欧阳明月")
    make_record(member, tree["a1"], 3, "2.25")
    body = issue(client, member, tree["a1"]).get_json()

    response = client.get(f"/api/v1/certificates/verify/{body['verify_code']}")

    assert response.status_code == 200
    verified = response.get_json()
    assert verified["valid"] is True
    assert verified["number"] == body["number"]
    assert verified["name_masked"] == "欧***"
    assert verified["total_hours"] == 2.25
    assert (verified["from"], verified["to"]) == ("2025-03-01", "2025-03-31")
    assert verified["issuer"] == "a1社区"
    assert verified["issued_at"].endswith("+08:00")
    assert "欧阳明月" not in response.get_data(as_text=True)

    unknown = client.get("/api/v1/certificates/verify/" + "x" * 32)
    assert unknown.status_code == 404
    assert error_code(unknown) == "certificate_not_found"


def test_verify_is_rate_limited(client):
    statuses = [client.get("/api/v1/certificates/verify/nope").status_code for _ in range(31)]
    assert statuses[:30] == [404] * 30
    assert statuses[30] == 429
    assert client.get("/api/v1/certificates/verify/nope").get_json()["error"]["code"] == "rate_limited"


def test_simultaneous_issues_get_distinct_numbers(client, live_server):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    members = [make_member() for _ in range(4)]
    for member in members:
        make_record(member, tree["a1"], 3, "1.00")
    headers = auth(admin)
    bodies = [{"issuer_id": tree["a1"].id, "member_id": member.id, **PERIOD} for member in members]

    responses = fire_at_once(4, lambda i: requests.post(
        f"{live_server}/api/v1/certificates", json=bodies[i], headers=headers, timeout=60))

    assert [r.status_code for r in responses] == [201] * 4
    numbers = sorted(r.json()["number"] for r in responses)
    assert [n[-4:] for n in numbers] == ["0001", "0002", "0003", "0004"]


def _batch_fixture():
    tree = region_tree()
    with_hours = [make_member(f"志愿者{i}") for i in range(3)]
    for i, member in enumerate(with_hours):
        make_record(member, tree["a1"], 3 + i, "2.00")
        make_record(member, tree["a1"], 20, "1.00")
    elsewhere, pending = make_member("外社区"), make_member("待审核")
    make_record(elsewhere, tree["a2"], 3, "2.00")
    make_record(pending, tree["a1"], 3, "2.00", status="pending")
    return tree, with_hours


def _pdfs_in(zip_bytes):
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def test_batch_returns_a_zip_with_one_valid_pdf_per_member_with_approved_hours(client):
    tree, with_hours = _batch_fixture()
    admin = make_staff("community_admin", tree["a1"])

    response = client.post("/api/v1/certificates/batch", json={"issuer_id": tree["a1"].id, **PERIOD},
                           headers=auth(admin))

    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    pdfs = _pdfs_in(response.data)
    assert len(pdfs) == 3
    texts = [pdf_text(pdf) for pdf in pdfs.values()]
    for member in with_hours:
        [text] = [t for t in texts if member.volunteer_number in t]
        assert member.name in text and "3.00" in text
    certificates = db.session.scalars(select(Certificate)).all()
    assert sorted(c.member_id for c in certificates) == sorted(m.id for m in with_hours)
    assert {f"{c.number}_{c.snapshot['member']['volunteer_number']}.pdf" for c in certificates} == set(pdfs)
    assert all(c.issued_by == admin.id and c.issued_via == "api" for c in certificates)


def test_batch_is_for_staff_of_the_issuer_only(client):
    tree, with_hours = _batch_fixture()
    body = {"issuer_id": tree["a1"].id, **PERIOD}
    assert client.post("/api/v1/certificates/batch", json=body, headers=auth(with_hours[0])).status_code == 403
    response = client.post("/api/v1/certificates/batch", json=body,
                           headers=auth(make_staff("community_admin", tree["b1"])))
    assert response.status_code == 404
    response = client.post("/api/v1/certificates/batch", json={**body, "from": "2024-01-01", "to": "2024-12-31"},
                           headers=auth(make_staff("community_admin", tree["a1"])))
    assert response.status_code == 422 and error_code(response) == "no_approved_hours"
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 0


def test_cli_export_prints_progress_and_writes_the_same_zip(app, tmp_path):
    tree, with_hours = _batch_fixture()
    out = tmp_path / "certificates.zip"

    result = app.test_cli_runner().invoke(args=[
        "certificates", "export", "--issuer", str(tree["a1"].id), "--from", PERIOD["from"], "--to", PERIOD["to"],
        "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert "issuing 3 certificates" in result.output
    assert "3 certificates written to" in result.output
    pdfs = _pdfs_in(out.read_bytes())
    assert len(pdfs) == 3
    assert all(pdf.startswith(b"%PDF") and PdfReader(io.BytesIO(pdf)).pages for pdf in pdfs.values())
    certificates = db.session.scalars(select(Certificate)).all()
    assert sorted(c.member_id for c in certificates) == sorted(m.id for m in with_hours)
    assert all(c.issued_by is None and c.issued_via == "cli" for c in certificates)
    assert list(tmp_path.iterdir()) == [out]


def test_cli_export_explains_a_refusal(app, tmp_path):
    tree, _ = _batch_fixture()
    out = tmp_path / "certificates.zip"
    result = app.test_cli_runner().invoke(args=[
        "certificates", "export", "--issuer", str(tree["a2"].id), "--from", "2024-01-01", "--to", "2024-01-31",
        "--out", str(out)])
    assert result.exit_code == 1
    assert "no_approved_hours" in result.output
    assert not out.exists()


def test_demo_issues_certificates_only_where_there_are_approved_hours(capsys):
    from demo import certificates as demo_certificates

    tree = region_tree()
    make_staff("community_admin", tree["a1"])
    member = make_member()
    make_record(member, tree["a1"], 3, "2.00", status="pending")
    assert demo_certificates.seed({}) == {"certificates": 0}
    assert "none issued" in capsys.readouterr().out

    make_record(member, tree["a1"], 4, "1.50")
    assert demo_certificates.seed({}) == {"certificates": 1}
    certificate = db.session.scalars(select(Certificate)).one()
    assert certificate.total_hours == Decimal("1.50")
    assert (certificate.period_from.isoformat(), certificate.period_to.isoformat()) == ("2025-03-04", "2025-03-04")


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def test_verify_shows_a_browser_a_readable_page_with_the_same_facts(client):
    tree = region_tree()
    member = make_member("欧阳明月")
    make_record(member, tree["a1"], 3, "2.25")
    body = issue(client, member, tree["a1"]).get_json()
    url = f"/api/v1/certificates/verify/{body['verify_code']}"

    page = client.get(url, headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Accept" in page.headers["Vary"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    html = page.get_data(as_text=True)
    issued = datetime.fromisoformat(client.get(url).get_json()["issued_at"])
    for fact in ("证明真实有效", body["number"], "欧***", "2.25 小时", "2025年3月1日 至 2025年3月31日", "a1社区",
                 f"{issued.year}年{issued.month}月{issued.day}日 {issued:%H:%M}"):
        assert fact in html, fact
    assert "欧阳明月" not in html

    for accept in (None, "*/*", "application/json", "text/html, application/json", "text/html;q=0.5, */*"):
        answer = client.get(url, headers={"Accept": accept} if accept else {})
        assert answer.mimetype == "application/json", accept
        assert answer.get_json()["number"] == body["number"] and "Accept" in answer.headers["Vary"]


def test_verify_of_an_unknown_code_is_a_readable_404_page_for_a_browser(client):
    page = client.get("/api/v1/certificates/verify/" + "x" * 32, headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "未找到该证明" in page.get_data(as_text=True) and "Accept" in page.headers["Vary"]
    answer = client.get("/api/v1/certificates/verify/" + "x" * 32)
    assert answer.status_code == 404 and error_code(answer) == "certificate_not_found"
    assert "Accept" in answer.headers["Vary"]
