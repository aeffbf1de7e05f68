"""Organisers beyond the community (CONTRACT v1.1: Organisers beyond the community; Precisions: Teams and
organisers): a unit's own activities, who manages them, and who approves their hours."""

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from clock import utcnow
from extensions import db
from models import Activity, Attendance, Report, ServiceRecord
from services import checkin_tokens, rollups
from tests.activity_factories import PLACE, confirm, make_activity, make_record
from tests.factories import auth, error_code, make_department, make_member, make_staff, make_unit, region_tree
from tests.team_factories import make_team

BODY = {
    "title": "疫苗接种引导",
    "description": "接种点引导与秩序维护",
    "category": "health",
    "starts_at": "2030-05-01T09:00:00",
    "ends_at": "2030-05-01T11:30:00",
    "capacity": 3,
    "location": {"address": "社区卫生服务站", "lat": PLACE[0], "lng": PLACE[1], "radius_m": 150},
}


def report_unit(unit, community, status="approved"):
    report = Report(kind="unit", status=status, unit_id=unit.id, community_id=community.id,
                    created_by=make_member().id)
    db.session.add(report)
    if status == "approved":  # written past the services: counted as reports.decide would
        db.session.flush()
        rollups.reports_changed(report, +1)
    db.session.commit()
    return report


@pytest.fixture
def scene():
    """Unit U sits in a1 and reported there; its admin; a second unit V (reported in a1 too) with its admin."""
    tree = region_tree()
    unit = make_unit(tree["a1"], name="区医院")
    other_unit = make_unit(tree["a1"], name="区税务局")
    report_unit(unit, tree["a1"])
    report_unit(other_unit, tree["a1"])
    return {"tree": tree, "unit": unit, "other_unit": other_unit, "unit_admin": make_staff("unit_admin", unit),
            "other_unit_admin": make_staff("unit_admin", other_unit),
            "community_admin": make_staff("community_admin", tree["a1"]),
            "other_community_admin": make_staff("community_admin", tree["b1"])}


def _body(community, unit=None, **changes):
    body = {**BODY, "community_id": community.id, **changes}
    if unit is not None:
        body["unit_id"] = unit.id
    return body


def _create(client, scene, user=None, **changes):
    response = client.post("/api/v1/activities", json=_body(scene["tree"]["a1"], scene["unit"], **changes),
                           headers=auth(user or scene["unit_admin"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_unit_admin_creates_an_activity_where_its_unit_reported(client, scene):
    body = _create(client, scene)
    assert body["organizer"] == {"type": "unit", "id": scene["unit"].id, "name": "区医院"}
    assert body["unit_id"] == scene["unit"].id and body["community_id"] == scene["tree"]["a1"].id
    assert body["status"] == "published"
    shown = client.get(f"/api/v1/activities/{body['id']}", headers=auth(make_member())).get_json()
    assert shown["organizer"] == body["organizer"]
    listed = client.get(f"/api/v1/activities?unit_id={scene['unit'].id}", headers=auth(make_member())).get_json()
    assert [a["id"] for a in listed["items"]] == [body["id"]]


def test_community_activities_name_the_community_as_organiser(client, scene):
    response = client.post("/api/v1/activities", json=_body(scene["tree"]["a1"]),
                           headers=auth(scene["community_admin"]))
    assert response.status_code == 201
    assert response.get_json()["organizer"] == {"type": "community", "id": scene["tree"]["a1"].id,
                                                "name": "a1社区"}
    assert response.get_json()["unit_id"] is None


def test_community_staff_may_publish_for_a_unit_reported_there(client, scene):
    body = _create(client, scene, user=scene["community_admin"])
    assert body["organizer"]["type"] == "unit"


def test_a_unit_not_reported_in_the_community_is_refused(client, scene):
    tree, unit = scene["tree"], scene["unit"]
    headers = auth(scene["unit_admin"])
    # Its unit sits in a1 and reported there only: a2, and b1 where another report is still pending, are refused.
    report_unit(make_unit(tree["b1"]), tree["b1"], status="pending")
    for community in (tree["a2"], tree["b1"]):
        response = client.post("/api/v1/activities", json=_body(community, unit), headers=headers)
        assert response.status_code == 403 and error_code(response) == "unit_not_reported"
    # A withdrawn report no longer counts.
    withdrawn = make_unit(tree["a1"])
    report_unit(withdrawn, tree["a1"], status="withdrawn")
    admin = make_staff("unit_admin", withdrawn)
    response = client.post("/api/v1/activities", json=_body(tree["a1"], withdrawn), headers=auth(admin))
    assert response.status_code == 403 and error_code(response) == "unit_not_reported"
    assert db.session.scalars(select(Activity)).all() == []


def test_creation_answers_in_the_contract_order(client, scene):
    tree, unit = scene["tree"], scene["unit"]
    unit_headers = auth(scene["unit_admin"])
    # 403 the role: members and department admins are not staff.
    for outsider in (make_member(), make_staff("department_admin", make_department(tree["street_a"]))):
        response = client.post("/api/v1/activities", json=_body(tree["a1"], unit), headers=auth(outsider))
        assert response.status_code == 403 and error_code(response) == "staff_only"
    # 422: no such unit, the community not a community, and a unit admin naming no unit.
    response = client.post("/api/v1/activities", json={**_body(tree["a1"]), "unit_id": 999999},
                           headers=unit_headers)
    assert response.status_code == 422 and "unit_id" in response.get_json()["error"]["details"]
    response = client.post("/api/v1/activities", json=_body(tree["street_a"], unit), headers=unit_headers)
    assert response.status_code == 422 and "community_id" in response.get_json()["error"]["details"]
    response = client.post("/api/v1/activities", json=_body(tree["a1"]), headers=unit_headers)
    assert response.status_code == 422 and "unit_id" in response.get_json()["error"]["details"]
    # 404: another unit's admin for this unit, and another community's staff, even where the unit reported.
    response = client.post("/api/v1/activities", json=_body(tree["a1"], unit), headers=auth(scene["other_unit_admin"]))
    assert response.status_code == 404 and error_code(response) == "unit_not_found"
    response = client.post("/api/v1/activities", json=_body(tree["a1"], unit),
                           headers=auth(scene["other_community_admin"]))
    assert response.status_code == 404 and error_code(response) == "unit_not_found"
    # 422 before 403 unit_not_reported: a bad field in a community where the unit never reported.
    response = client.post("/api/v1/activities", json=_body(tree["a2"], unit, capacity=0), headers=unit_headers)
    assert response.status_code == 422
    assert db.session.scalars(select(Activity)).all() == []


def test_the_units_admins_manage_its_activity_and_nobody_elses(client, scene):
    body = _create(client, scene)
    activity_id = body["id"]
    unit_headers = auth(scene["unit_admin"])
    response = client.patch(f"/api/v1/activities/{activity_id}", json={"title": "疫苗接种引导（第二场）"},
                            headers=unit_headers)
    assert response.status_code == 200 and response.get_json()["title"] == "疫苗接种引导（第二场）"
    member = make_member()
    assert client.post(f"/api/v1/activities/{activity_id}/signups", headers=auth(member)).status_code == 201
    signups = client.get(f"/api/v1/activities/{activity_id}/signups", headers=unit_headers)
    assert signups.status_code == 200 and [s["member_id"] for s in signups.get_json()["items"]] == [member.id]
    qrcode = client.get(f"/api/v1/activities/{activity_id}/qrcode", headers=unit_headers)
    assert qrcode.status_code == 200 and qrcode.get_json()["token"]
    assert client.post(f"/api/v1/activities/{activity_id}/screen", headers=unit_headers).status_code == 200
    # Another unit's admin and another community's staff: 404 on every one of them.
    for outsider in (scene["other_unit_admin"], scene["other_community_admin"]):
        headers = auth(outsider)
        assert client.patch(f"/api/v1/activities/{activity_id}", json={"title": "x"},
                            headers=headers).status_code == 404
        for path in ("signups", "attendances", "qrcode"):
            response = client.get(f"/api/v1/activities/{activity_id}/{path}", headers=headers)
            assert response.status_code == 404 and error_code(response) == "activity_not_found", path
        assert client.post(f"/api/v1/activities/{activity_id}/cancel", headers=headers).status_code == 404
    # The community's staff manage it too; the unit's admins do not manage the community's own activities.
    assert client.patch(f"/api/v1/activities/{activity_id}", json={"capacity": 4},
                        headers=auth(scene["community_admin"])).status_code == 200
    own = make_activity(scene["tree"]["a1"])
    assert client.patch(f"/api/v1/activities/{own.id}", json={"title": "x"}, headers=unit_headers).status_code == 404
    # PATCH cannot move the activity to another organiser.
    response = client.patch(f"/api/v1/activities/{activity_id}", json={"unit_id": scene["other_unit"].id},
                            headers=unit_headers)
    assert response.status_code == 422
    response = client.post(f"/api/v1/activities/{activity_id}/cancel", headers=unit_headers)
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"


def test_the_units_admins_list_attendance_and_the_community_approves_the_hours(client, scene):
    body = _create(client, scene)
    activity = db.session.get(Activity, body["id"])
    member = make_member(name="张医生")
    confirm(activity, member)
    with time_machine.travel(activity.starts_at, tick=False) as traveller:
        token = checkin_tokens.activity_token(activity)[0]
        where = {"lat": PLACE[0], "lng": PLACE[1]}
        first = client.post("/api/v1/checkins", json={"token": token, **where}, headers=auth(member))
        assert first.status_code == 201, first.get_json()
        traveller.shift(timedelta(hours=2))
        token = checkin_tokens.activity_token(activity)[0]
        second = client.post("/api/v1/checkins", json={"token": token, **where}, headers=auth(member))
        assert second.status_code == 200 and second.get_json()["action"] == "check_out"
    attendances = client.get(f"/api/v1/activities/{activity.id}/attendances", headers=auth(scene["unit_admin"]))
    assert attendances.status_code == 200
    [row] = attendances.get_json()["items"]
    assert row["member_id"] == member.id and row["member_name"] == "张医生" and row["minutes"] == 120
    record = db.session.scalar(select(ServiceRecord).where(ServiceRecord.activity_id == activity.id))
    assert record.community_id == scene["tree"]["a1"].id and record.status == "pending"
    # The unit's admin may not decide on hours, alone or in bulk; another community's staff do not see them.
    response = client.post(f"/api/v1/service-records/{record.id}/approve", headers=auth(scene["unit_admin"]))
    assert response.status_code == 403 and error_code(response) == "staff_only"
    response = client.post("/api/v1/service-records/approve", json={"activity_id": activity.id},
                           headers=auth(scene["unit_admin"]))
    assert response.status_code == 403 and error_code(response) == "staff_only"
    response = client.post(f"/api/v1/service-records/{record.id}/approve",
                           headers=auth(scene["other_community_admin"]))
    assert response.status_code == 404
    response = client.post("/api/v1/service-records/approve", json={"activity_id": activity.id},
                           headers=auth(scene["other_community_admin"]))
    assert response.status_code == 404
    # The community's staff see the unit activity's hours among their own and approve them as their own.
    listed = client.get(f"/api/v1/service-records?community_id={scene['tree']['a1'].id}&status=pending",
                        headers=auth(scene["community_admin"])).get_json()
    assert [r["id"] for r in listed["items"]] == [record.id]
    response = client.post("/api/v1/service-records/approve", json={"activity_id": activity.id},
                           headers=auth(scene["community_admin"]))
    assert response.status_code == 200 and response.get_json() == {"approved": 1, "skipped": []}
    db.session.expire_all()
    assert db.session.get(ServiceRecord, record.id).status == "approved"
    assert db.session.scalar(select(Attendance.member_id).where(Attendance.activity_id == activity.id)) == member.id


def test_the_unit_sees_its_members_hours_across_communities(client, scene):
    tree, unit = scene["tree"], scene["unit"]
    member = make_member(unit=unit)
    stranger = make_member()
    in_b1 = make_record(member, tree["b1"], hours="3.00", status="approved", started_at=utcnow() - timedelta(days=2))
    in_a2 = make_record(member, tree["a2"], hours="1.50")
    make_record(stranger, tree["b1"], hours="2.00", status="approved")
    listed = client.get("/api/v1/service-records", headers=auth(scene["unit_admin"])).get_json()
    assert {r["id"] for r in listed["items"]} == {in_b1.id, in_a2.id}
    members = client.get(f"/api/v1/units/{unit.id}/members", headers=auth(scene["unit_admin"])).get_json()
    [row] = [m for m in members["items"] if m["member_id"] == member.id]
    assert float(row["approved_hours_this_year"]) == 3.0
    assert client.get(f"/api/v1/units/{unit.id}/members", headers=auth(scene["other_unit_admin"])).status_code == 404


def test_a_page_of_activities_names_every_organiser_in_a_fixed_number_of_queries(client, scene, count_queries):
    tree = scene["tree"]
    units = [make_unit(tree["a1"]) for _ in range(4)]
    for unit in units:
        report_unit(unit, tree["a1"])
    for unit in units:
        activity = make_activity(tree["a1"])
        activity.unit_id = unit.id
        activity.eligible_team_id = make_team(unit, name=unit.name).id  # a team each: memberships asked at once
    for _ in range(4):
        make_activity(tree["a2"])
    db.session.commit()
    headers = auth(make_member())
    totals = {}
    for per_page in (1, 8):
        with count_queries() as counted:
            response = client.get(f"/api/v1/activities?per_page={per_page}", headers=headers)
        assert response.status_code == 200
        totals[per_page] = counted.total
        items = response.get_json()["items"]
    assert totals[1] == totals[8], totals
    organizers = {(a["organizer"]["type"], a["organizer"]["name"]) for a in items}
    assert organizers == {("unit", u.name) for u in units} | {("community", "a2社区")}
