"""A unit's yearly report on its members: GET /units/{id}/members and its XLSX export."""

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from extensions import db
from models import Feedback, PointsEntry, Report, ServiceRecord, Wish
from tests.factories import auth, make_member, make_report, make_staff, make_unit, region_tree


@pytest.fixture
def unit_world():
    tree = region_tree()
    unit = make_unit(tree["a1"], "甲医院")
    admin_a1 = make_staff("community_admin", tree["a1"])
    reported = make_member("王伟", unit=unit)
    pending = make_member("李芳", unit=unit)
    silent = make_member("张娜", unit=unit)
    make_member("外单位", unit=make_unit(tree["b1"]))
    report = make_report(reported, tree["a2"])
    make_report(pending, tree["b1"], status="pending")
    db.session.add(Feedback(report_id=report.id, year=2024, rating=5, comment="表现突出", created_by=admin_a1.id))
    db.session.add(Feedback(report_id=report.id, year=2023, rating=3, comment="去年", created_by=admin_a1.id))
    start = datetime(2024, 3, 1, 1, tzinfo=UTC)
    for hours, status, when in (("2.5", "approved", start), ("1.25", "approved", start + timedelta(days=30)),
                                ("4", "pending", start), ("3", "approved", datetime(2023, 12, 31, 17, tzinfo=UTC))):
        db.session.add(ServiceRecord(member_id=reported.id, community_id=tree["a2"].id, started_at=when,
                                     ended_at=when + timedelta(hours=5), hours=Decimal(hours), status=status))
    db.session.add_all([
        PointsEntry(member_id=reported.id, delta=25, reason="service_hours", ref="r1", at=start),
        PointsEntry(member_id=reported.id, delta=20, reason="wish_completed", ref="w1", at=start),
        PointsEntry(member_id=reported.id, delta=99, reason="service_hours", ref="old",
                    at=datetime(2023, 5, 1, tzinfo=UTC)),
        Wish(community_id=tree["a2"].id, title="买米", status="completed", claimer_member_id=reported.id,
             claimed_by=reported.id, completed_at=start),
    ])
    db.session.commit()
    return {**tree, "unit": unit, "admin_a1": admin_a1, "reported": reported, "pending": pending, "silent": silent}


def test_members_with_hours_points_wishes_and_feedback(client, unit_world):
    admin = make_staff("unit_admin", unit_world["unit"])
    response = client.get(f"/api/v1/units/{unit_world['unit'].id}/members?year=2024", headers=auth(admin))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total"] == 3
    rows = {r["name"]: r for r in body["items"]}
    reported = rows["王伟"]
    assert reported["member_id"] == unit_world["reported"].id
    assert reported["report_status"] == "approved" and reported["community_id"] == unit_world["a2"].id
    # 2023-12-31 17:00 UTC is already 2024 in Beijing: 2.5 + 1.25 + 3.
    assert reported["approved_hours_this_year"] == 6.75
    assert reported["points_this_year"] == 45 and reported["wishes_completed_this_year"] == 1
    assert reported["feedback"]["rating"] == 5 and reported["feedback"]["comment"] == "表现突出"
    assert rows["李芳"]["report_status"] == "pending" and rows["李芳"]["feedback"] is None
    assert rows["张娜"]["report_status"] is None and rows["张娜"]["community_id"] is None
    assert rows["张娜"]["approved_hours_this_year"] == 0 and rows["张娜"]["points_this_year"] == 0


def test_scope_of_the_members_list_and_export(client, unit_world):
    unit_id = unit_world["unit"].id
    other_admin = make_staff("unit_admin", make_unit(unit_world["a1"]))
    for url in (f"/api/v1/units/{unit_id}/members", f"/api/v1/units/{unit_id}/members/export?year=2024"):
        assert client.get(url, headers=auth(other_admin)).status_code == 404
        assert client.get(url, headers=auth(make_staff("community_admin", unit_world["b1"]))).status_code == 404
        assert client.get(url, headers=auth(unit_world["reported"])).status_code == 403
        # Region staff over the unit's community see it too.
        assert client.get(url, headers=auth(unit_world["admin_a1"])).status_code == 200
    assert client.get("/api/v1/units/999/members/export", headers=auth(unit_world["admin_a1"])).status_code == 404
    assert client.get(f"/api/v1/units/{unit_id}/members/export?format=pdf",
                      headers=auth(unit_world["admin_a1"])).status_code == 422


def test_export_is_an_xlsx_of_the_years_report(client, unit_world):
    admin = make_staff("unit_admin", unit_world["unit"])
    response = client.get(f"/api/v1/units/{unit_world['unit'].id}/members/export?year=2024&format=xlsx",
                          headers=auth(admin))
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f"unit-{unit_world['unit'].id}-members-2024.xlsx" in response.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("成员编号", "志愿者编号", "姓名", "报到状态")
    by_name = {r[2]: r for r in rows[1:]}
    assert set(by_name) == {"王伟", "李芳", "张娜"}
    reported = by_name["王伟"]
    assert reported[0] == unit_world["reported"].id and reported[1] == unit_world["reported"].volunteer_number
    assert reported[3:] == ("已报到", "a2社区", 6.75, 45, 1, 5, "表现突出")
    assert by_name["李芳"][3:5] == ("待审核", "b1社区")
    assert by_name["张娜"][3] == "未报到" and by_name["张娜"][8] is None


def test_members_are_paged_by_id_with_their_latest_report(client, unit_world):
    # 李芳 withdrew her report to b1 and reported to a1 instead: the list shows the later one.
    first = db.session.scalars(select(Report).where(Report.member_id == unit_world["pending"].id)).one()
    first.status = "withdrawn"
    db.session.commit()
    make_report(unit_world["pending"], unit_world["a1"], status="pending")
    headers = auth(make_staff("unit_admin", unit_world["unit"]))
    url = f"/api/v1/units/{unit_world['unit'].id}/members?year=2024&per_page=2"
    pages = [client.get(f"{url}&page={page}", headers=headers).get_json() for page in (1, 2, 3)]
    assert [p["total"] for p in pages] == [3, 3, 3]
    ids = [r["member_id"] for p in pages for r in p["items"]]
    members = (unit_world["reported"], unit_world["pending"], unit_world["silent"])
    assert ids == sorted(m.id for m in members) and [len(p["items"]) for p in pages] == [2, 1, 0]
    moved = next(r for p in pages for r in p["items"] if r["member_id"] == unit_world["pending"].id)
    assert (moved["report_status"], moved["community_id"]) == ("pending", unit_world["a1"].id)
    assert moved["volunteer_number"] == unit_world["pending"].volunteer_number and moved["name"] == "李芳"
