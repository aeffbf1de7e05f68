"""Exports of service records (CONTRACT: GET /service-records/export): streamed CSV and XLSX within scope."""

import csv
import io
from datetime import UTC, datetime, timedelta

import openpyxl
from werkzeug.http import parse_options_header

from tests.activity_factories import make_activity, make_record
from tests.factories import auth, make_member, make_staff, region_tree


def _setup():
    tree = region_tree()
    inside = make_member("张三")
    outside = make_member("李四")
    activity = make_activity(tree["a1"], category="culture")
    make_record(inside, tree["a1"], hours="2.50", status="approved", activity_id=activity.id, category="culture",
                started_at=datetime(2030, 3, 1, 1, tzinfo=UTC))
    make_record(inside, tree["a2"], hours="1.00", started_at=datetime(2030, 4, 1, 1, tzinfo=UTC))
    make_record(outside, tree["b1"], hours="3.00", status="approved", started_at=datetime(2030, 3, 2, 1, tzinfo=UTC))
    return tree


def test_csv_export_opens_with_the_csv_module_and_keeps_to_scope(client):
    tree = _setup()
    headers = auth(make_staff("street_admin", tree["street_a"]))
    response = client.get("/api/v1/service-records/export?format=csv", headers=headers)
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert parse_options_header(response.headers["Content-Disposition"]) == (
        "attachment", {"filename": "service-records.csv"})
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["记录编号", "志愿者编号", "姓名"]
    assert [r[2] for r in rows[1:]] == ["张三", "张三"]
    first = rows[1]
    assert (first[3], first[4], first[5], first[6], first[8], first[9]) == (
        "a1社区", "社区环境清整", "文化提升", "2030-03-01 09:00", "2.50", "已通过")
    assert "李四" not in response.data.decode("utf-8-sig")


def test_csv_export_filters_by_community_and_dates(client):
    tree = _setup()
    headers = auth(make_staff("district_admin", tree["district"]))
    everything = client.get("/api/v1/service-records/export", headers=headers).data.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(everything)))) == 4
    body = client.get(f"/api/v1/service-records/export?community_id={tree['b1'].id}&from=2030-03-01&to=2030-03-31",
                      headers=headers).data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert [r[2] for r in rows[1:]] == ["李四"]


def test_xlsx_export_opens_with_openpyxl(client):
    tree = _setup()
    headers = auth(make_staff("community_admin", tree["a1"]))
    response = client.get("/api/v1/service-records/export?format=xlsx", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.data), read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][2] == "姓名"
    assert len(rows) == 2
    assert rows[1][2] == "张三" and rows[1][8] == 2.5
    assert all("李四" not in (cell or "") for row in rows for cell in row if isinstance(cell, str))


def test_export_is_for_staff_and_validates_its_arguments(client):
    tree = _setup()
    assert client.get("/api/v1/service-records/export", headers=auth(make_member())).status_code == 403
    headers = auth(make_staff("community_admin", tree["b2"]))
    empty = client.get("/api/v1/service-records/export", headers=headers).data.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(empty)))) == 1
    assert client.get("/api/v1/service-records/export?format=pdf", headers=headers).status_code == 422
    assert client.get("/api/v1/service-records/export?from=yesterday", headers=headers).status_code == 422


def test_export_order_is_by_community_then_oldest_first(client):
    """Deterministic, and the order of the index the export streams from: community, start time, record id."""
    tree = region_tree()
    assert tree["a1"].id < tree["a2"].id
    member = make_member("王五")
    at = datetime(2030, 5, 1, 1, tzinfo=UTC)
    late_a2 = make_record(member, tree["a2"], started_at=at)
    late_a1 = make_record(member, tree["a1"], started_at=at + timedelta(days=2))
    early_a2 = make_record(member, tree["a2"], started_at=at - timedelta(days=3))
    tied_a1 = make_record(member, tree["a1"], started_at=at)
    tied_a1_later_id = make_record(member, tree["a1"], started_at=at)
    headers = auth(make_staff("street_admin", tree["street_a"]))

    def exported_ids(query=""):
        body = client.get(f"/api/v1/service-records/export{query}", headers=headers).data.decode("utf-8-sig")
        return [int(row[0]) for row in list(csv.reader(io.StringIO(body)))[1:]]

    assert exported_ids() == [tied_a1.id, tied_a1_later_id.id, late_a1.id, early_a2.id, late_a2.id]
    assert exported_ids(f"?community_id={tree['a2'].id}") == [early_a2.id, late_a2.id]
    assert exported_ids(f"?community_id={tree['a1'].id}&from=2030-05-01&to=2030-05-01") == [
        tied_a1.id, tied_a1_later_id.id]
