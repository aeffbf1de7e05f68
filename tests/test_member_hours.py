"""GET /stats/members and its XLSX export: who served most in a community or street this year, from the volunteers'
rollup, kept by approvals and corrections; masked phones; scope; text stays text in the workbook."""

import io
from datetime import UTC, datetime
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from sqlalchemy import text

from extensions import db
from tests.activity_factories import make_record
from tests.conftest import ON_POSTGRES, postgres_only
from tests.factories import auth, error_code, make_member, make_staff, make_unit, region_tree

NOW = datetime(2031, 6, 1, 4, tzinfo=UTC)


@pytest.fixture
def world():
    with time_machine.travel(NOW, tick=False):
        tree = region_tree()
        unit = make_unit(tree["a1"], "区医院")
        tree["wang"] = make_member("王芳", unit=unit, phone="13812345678", volunteer_number="V0001")
        tree["li"] = make_member("李强", phone="13900001111")
        tree["zhao"] = make_member("=HYPERLINK(\"http://evil.example\",\"点我\")")
        # 王芳: 3 h in a1 and 2 h in a2 (street a: 5 h); 李强: 4 h in a1; 赵: 1 h in b1; last year's and pending
        # and rejected hours count nowhere.
        make_record(tree["wang"], tree["a1"], hours="3", status="approved")
        make_record(tree["wang"], tree["a2"], hours="2", status="approved")
        make_record(tree["li"], tree["a1"], hours="2.5", status="approved")
        make_record(tree["li"], tree["a1"], hours="1.5", status="approved")
        make_record(tree["zhao"], tree["b1"], hours="1", status="approved")
        make_record(tree["zhao"], tree["a1"], hours="9", status="approved", started_at=datetime(2030, 6, 1, tzinfo=UTC))
        make_record(tree["zhao"], tree["a1"], hours="9", status="pending")
        make_record(tree["zhao"], tree["a1"], hours="9", status="rejected")
        tree["a1_admin"] = make_staff("community_admin", tree["a1"])
        tree["street_admin"] = make_staff("street_admin", tree["street_a"])
        yield tree


def listing(client, user, **query):
    return client.get("/api/v1/stats/members", query_string=query, headers=auth(user))


def test_a_community_lists_its_members_most_hours_first(client, world):
    with time_machine.travel(NOW, tick=False):
        body = listing(client, world["a1_admin"]).get_json()
    assert body["region_id"] == world["a1"].id and body["year"] == 2031
    assert (body["page"], body["per_page"], body["total"]) == (1, 20, 2)
    assert body["items"] == [
        {"member_id": world["li"].id, "name": "李强", "volunteer_number": world["li"].volunteer_number,
         "phone_masked": "139****1111", "unit_name": None, "hours": 4.0, "records": 2},
        {"member_id": world["wang"].id, "name": "王芳", "volunteer_number": "V0001", "phone_masked": "138****5678",
         "unit_name": "区医院", "hours": 3.0, "records": 1},
    ]


def test_a_street_adds_up_its_communities_and_pages(client, world):
    admin = world["street_admin"]
    with time_machine.travel(NOW, tick=False):
        body = listing(client, admin, region_id=world["street_a"].id).get_json()
        assert [(i["name"], i["hours"], i["records"]) for i in body["items"]] == [("王芳", 5.0, 2), ("李强", 4.0, 2)]
        second = listing(client, admin, region_id=world["street_a"].id, per_page=1, page=2).get_json()
        assert [i["name"] for i in second["items"]] == ["李强"] and second["total"] == 2
        last_year = listing(client, admin, region_id=world["a1"].id, year=2030).get_json()
    # Last year only 赵's 9 hours: the year is the record's start, local time.
    assert [(i["member_id"], i["hours"]) for i in last_year["items"]] == [(world["zhao"].id, 9.0)]


def test_corrections_move_a_member_in_the_list(client, world):
    admin = make_staff("district_admin", world["district"])
    with time_machine.travel(NOW, tick=False):
        record = make_record(world["wang"], world["a1"], hours="1", status="pending")
        assert client.post(f"/api/v1/service-records/{record.id}/approve", headers=auth(admin)).status_code == 200
        response = client.patch(f"/api/v1/service-records/{record.id}", headers=auth(admin),
                                json={"hours": 1.5, "reason": "补录"})
        assert response.status_code == 200, response.get_json()
        items = listing(client, admin, region_id=world["a1"].id).get_json()["items"]
    assert [(i["name"], i["hours"], i["records"]) for i in items] == [("王芳", 4.5, 2), ("李强", 4.0, 2)]


def test_scope_and_roles(client, world):
    with time_machine.travel(NOW, tick=False):
        assert listing(client, world["a1_admin"], region_id=world["b1"].id).status_code == 404
        assert listing(client, world["a1_admin"], region_id=world["street_a"].id).status_code == 404
        member = listing(client, world["wang"])
        assert member.status_code == 403 and error_code(member) == "staff_only"
        assert listing(client, world["a1_admin"], region_id=999999).status_code == 404
        assert listing(client, world["a1_admin"], per_page=101).status_code == 422
        export = client.get("/api/v1/stats/members/export", query_string={"region_id": world["b1"].id},
                            headers=auth(world["a1_admin"]))
        assert export.status_code == 404


def test_the_export_is_the_whole_list_with_text_as_text(client, world):
    with time_machine.travel(NOW, tick=False):
        response = client.get("/api/v1/stats/members/export", query_string={"region_id": world["district"].id},
                              headers=auth(make_staff("district_admin", world["district"])))
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f"member-hours-{world['district'].id}-2031.xlsx" in response.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("名次", "志愿者编号", "姓名", "手机号", "单位", "时长（小时）", "记录数")
    li, zhao = world["li"].volunteer_number, world["zhao"].volunteer_number
    assert rows[1:] == [(1, "V0001", "王芳", "138****5678", "区医院", 5, 2), (2, li, "李强", "139****1111", None, 4, 2),
                        (3, zhao, '=HYPERLINK("http://evil.example","点我")', None, None, 1, 1)]
    # The name that looks like a formula is a string cell, never a formula.
    assert sheet.cell(row=4, column=3).data_type == "s"
    assert Decimal(str(rows[1][5])) == Decimal("5")


@postgres_only
def test_the_first_page_reads_the_rollup_index_backwards(client, world):
    assert ON_POSTGRES
    db.session.execute(text("SET enable_seqscan = off"))
    plan = "\n".join(db.session.scalars(text(
        "EXPLAIN SELECT member_id, hours FROM stats_volunteers WHERE region_id = :r AND year = 2031 AND records > 0 "
        "ORDER BY hours DESC, member_id DESC LIMIT 20"), {"r": world["street_a"].id}))
    assert "ix_stats_volunteers_region_year_hours" in plan and "Backward" in plan and "Sort" not in plan
