import requests

from extensions import db
from models import Feedback, Notification, Report
from tests.conftest import fire_at_once, postgres_only
from tests.factories import auth, error_code, make_member, make_report, make_staff, make_unit, region_tree


def report(client, member, community):
    return client.post("/api/v1/reports", headers=auth(member), json={"community_id": community.id})


def test_member_reports_to_a_community(client):
    tree = region_tree()
    unit = make_unit(tree["b1"])
    member = make_member(unit=unit)
    response = report(client, member, tree["a1"])
    assert response.status_code == 201
    body = response.get_json()
    assert {k: body[k] for k in ("kind", "status", "member_id", "unit_id", "community_id")} == {
        "kind": "member", "status": "pending", "member_id": member.id, "unit_id": unit.id,
        "community_id": tree["a1"].id}
    assert body["created_at"].endswith("+08:00")


def test_second_report_is_409_already_reported(client):
    tree = region_tree()
    member = make_member()
    assert report(client, member, tree["a1"]).status_code == 201
    again = report(client, member, tree["a2"])
    assert again.status_code == 409 and error_code(again) == "already_reported"


def test_report_to_something_that_is_not_a_community_is_422(client):
    tree = region_tree()
    member = make_member()
    for target in (tree["street_a"].id, 99999):
        response = client.post("/api/v1/reports", headers=auth(member), json={"community_id": target})
        assert response.status_code == 422
        assert "community_id" in response.get_json()["error"]["details"]


def test_community_admin_approves_once(client):
    tree = region_tree()
    admin = auth(make_staff("community_admin", tree["a1"]))
    member = make_member()
    report_id = report(client, member, tree["a1"]).get_json()["id"]
    approved = client.post(f"/api/v1/reports/{report_id}/approve", headers=admin)
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    again = client.post(f"/api/v1/reports/{report_id}/approve", headers=admin)
    assert again.status_code == 409 and error_code(again) == "invalid_state"
    rejected_late = client.post(f"/api/v1/reports/{report_id}/reject", headers=admin, json={"reason": "x"})
    assert rejected_late.status_code == 409
    assert client.get("/api/v1/me", headers=auth(member)).get_json()["community_id"] == tree["a1"].id
    notice = db.session.query(Notification).filter_by(member_id=member.id).one()
    assert notice.kind == "report_approved"


def test_reject_keeps_the_reason(client):
    tree = region_tree()
    admin = auth(make_staff("street_admin", tree["street_a"]))
    report_id = report(client, make_member(), tree["a2"]).get_json()["id"]
    response = client.post(f"/api/v1/reports/{report_id}/reject", headers=admin, json={"reason": "不住本社区"})
    assert response.status_code == 200
    assert response.get_json()["status"] == "rejected" and response.get_json()["reason"] == "不住本社区"


def test_admin_of_another_community_can_neither_see_nor_decide(client):
    tree = region_tree()
    admin_b = auth(make_staff("community_admin", tree["b1"]))
    street_b = auth(make_staff("street_admin", tree["street_b"]))
    report_id = report(client, make_member(), tree["a1"]).get_json()["id"]
    for headers in (admin_b, street_b):
        assert client.post(f"/api/v1/reports/{report_id}/approve", headers=headers).status_code == 404
        assert client.post(f"/api/v1/reports/{report_id}/reject", headers=headers, json={}).status_code == 404
        assert client.get("/api/v1/reports", headers=headers).get_json()["total"] == 0
    assert db.session.get(Report, report_id).status == "pending"


def test_members_and_unit_admins_cannot_decide(client):
    tree = region_tree()
    member = make_member()
    report_id = report(client, member, tree["a1"]).get_json()["id"]
    assert client.post(f"/api/v1/reports/{report_id}/approve", headers=auth(member)).status_code == 403
    unit_admin = auth(make_staff("unit_admin", make_unit(tree["a1"])))
    assert client.post(f"/api/v1/reports/{report_id}/approve", headers=unit_admin).status_code == 403
    assert client.get("/api/v1/reports", headers=auth(member)).status_code == 403


def test_withdraw_then_report_elsewhere_keeps_history(client):
    tree = region_tree()
    member = make_member()
    first = report(client, member, tree["a1"]).get_json()["id"]
    client.post(f"/api/v1/reports/{first}/approve", headers=auth(make_staff("sysadmin")))
    withdrawn = client.post(f"/api/v1/reports/{first}/withdraw", headers=auth(member))
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    assert client.post(f"/api/v1/reports/{first}/withdraw", headers=auth(member)).status_code == 409
    assert report(client, member, tree["b2"]).status_code == 201
    statuses = [r.status for r in db.session.query(Report).filter_by(member_id=member.id).order_by(Report.id)]
    assert statuses == ["withdrawn", "pending"]


def test_nobody_withdraws_another_members_report(client):
    tree = region_tree()
    report_id = report(client, make_member(), tree["a1"]).get_json()["id"]
    assert client.post(f"/api/v1/reports/{report_id}/withdraw", headers=auth(make_member())).status_code == 404


def test_unit_admin_reports_its_unit_and_sees_its_members_reports(client):
    tree = region_tree()
    unit = make_unit(tree["a2"])
    unit_admin = auth(make_staff("unit_admin", unit))
    response = client.post("/api/v1/reports", headers=unit_admin, json={"community_id": tree["a2"].id,
                                                                       "unit_id": unit.id})
    assert response.status_code == 201 and response.get_json()["kind"] == "unit"
    again = client.post("/api/v1/reports", headers=unit_admin, json={"community_id": tree["a2"].id,
                                                                    "unit_id": unit.id})
    assert error_code(again) == "already_reported"
    report(client, make_member(unit=unit), tree["b1"])
    report(client, make_member(), tree["b1"])
    listed = client.get("/api/v1/reports", headers=unit_admin).get_json()
    assert listed["total"] == 2
    assert {r["kind"] for r in listed["items"]} == {"unit", "member"}


def test_only_the_units_admin_reports_the_unit(client):
    tree = region_tree()
    unit, other_unit = make_unit(tree["a1"]), make_unit(tree["a1"])
    response = client.post("/api/v1/reports", headers=auth(make_staff("unit_admin", other_unit)),
                           json={"community_id": tree["a1"].id, "unit_id": unit.id})
    assert response.status_code == 404 and error_code(response) == "unit_not_found"
    response = client.post("/api/v1/reports", headers=auth(make_member()),
                           json={"community_id": tree["a1"].id, "unit_id": unit.id})
    assert response.status_code == 403 and error_code(response) == "unit_admin_only"


def test_list_filters(client):
    tree = region_tree()
    admin = auth(make_staff("district_admin", tree["district"]))
    a = report(client, make_member(), tree["a1"]).get_json()["id"]
    report(client, make_member(), tree["b1"])
    client.post(f"/api/v1/reports/{a}/approve", headers=admin)
    assert client.get(f"/api/v1/reports?community_id={tree['a1'].id}", headers=admin).get_json()["total"] == 1
    approved = client.get("/api/v1/reports?status=approved", headers=admin).get_json()
    assert [r["id"] for r in approved["items"]] == [a]
    assert client.get("/api/v1/reports?kind=unit", headers=admin).get_json()["total"] == 0
    assert client.get("/api/v1/reports?status=nonsense", headers=admin).status_code == 422


def test_yearly_feedback(client):
    tree = region_tree()
    admin = auth(make_staff("community_admin", tree["a1"]))
    member = make_member()
    approved = make_report(member, tree["a1"], "approved")
    pending = make_report(make_member(), tree["a1"], "pending")
    url = f"/api/v1/reports/{approved.id}/feedback"
    response = client.post(url, headers=admin, json={"year": 2026, "rating": 5, "comment": "表现突出"})
    assert response.status_code == 201 and response.get_json()["rating"] == 5
    twice = client.post(url, headers=admin, json={"year": 2026, "rating": 4})
    assert twice.status_code == 409 and error_code(twice) == "feedback_exists"
    assert client.post(url, headers=admin, json={"year": 2026, "rating": 6}).status_code == 422
    assert client.post(f"/api/v1/reports/{pending.id}/feedback", headers=admin,
                       json={"year": 2026, "rating": 3}).status_code == 409
    other = auth(make_staff("community_admin", tree["a2"]))
    assert client.post(url, headers=other, json={"year": 2025, "rating": 3}).status_code == 404
    assert client.post(url, headers=auth(member), json={"year": 2025, "rating": 5}).status_code == 403
    assert db.session.query(Feedback).count() == 1


def test_unit_members_view_is_scoped(client):
    tree = region_tree()
    unit = make_unit(tree["a1"])
    member = make_member("赵六", unit=unit)
    make_report(member, tree["a2"], "approved")
    mine = client.get(f"/api/v1/units/{unit.id}/members", headers=auth(make_staff("unit_admin", unit)))
    assert mine.status_code == 200
    (row,) = mine.get_json()["items"]
    assert row["member_id"] == member.id and row["report_status"] == "approved"
    assert row["community_id"] == tree["a2"].id
    other_unit_admin = auth(make_staff("unit_admin", make_unit(tree["a1"])))
    assert client.get(f"/api/v1/units/{unit.id}/members", headers=other_unit_admin).status_code == 404
    assert client.get(f"/api/v1/units/{unit.id}/members",
                      headers=auth(make_staff("community_admin", tree["b1"]))).status_code == 404
    assert client.get(f"/api/v1/units/{unit.id}/members", headers=auth(member)).status_code == 403


def test_simultaneous_reports_create_exactly_one(live_server):
    tree = region_tree()
    member = make_member()
    headers = auth(member)
    communities = [tree["a1"].id, tree["b1"].id]

    def send(i):
        return requests.post(f"{live_server}/api/v1/reports", headers=headers,
                             json={"community_id": communities[i % 2]}, timeout=30)

    responses = fire_at_once(20, send)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19
    assert all(r.json()["error"]["code"] == "already_reported" for r in responses if r.status_code == 409)
    db.session.expire_all()
    assert db.session.query(Report).filter_by(member_id=member.id).count() == 1


@postgres_only
def test_simultaneous_decisions_apply_once(live_server):
    tree = region_tree()
    report_row = make_report(make_member(), tree["a1"], "pending")
    headers = auth(make_staff("community_admin", tree["a1"]))
    url = f"{live_server}/api/v1/reports/{report_row.id}"

    def decide(i):
        return requests.post(f"{url}/{'approve' if i % 2 else 'reject'}", headers=headers, json={}, timeout=30)

    statuses = sorted(r.status_code for r in fire_at_once(10, decide))
    assert statuses == [200] + [409] * 9
