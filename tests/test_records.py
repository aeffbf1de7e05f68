"""Service records (CONTRACT: Service records): manual entries, decisions, corrections, history and totals."""

from datetime import UTC, datetime
from decimal import Decimal

import requests
from sqlalchemy import func, select

from extensions import db
from models import Notification, PointsEntry, RecordChange, RoleAssignment, ServiceRecord
from services import points
from tests.activity_factories import make_activity, make_record
from tests.conftest import fire_at_once
from tests.factories import auth, error_code, make_member, make_staff, make_unit, region_tree


def _entry(member, community, **changes):
    return {"member_id": member.id, "community_id": community.id, "started_at": "2030-03-01T09:00:00",
            "ended_at": "2030-03-01T12:00:00", "hours": 3, "description": "楼道清理", **changes}


def test_staff_enter_hours_by_hand_as_pending(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member = make_member()
    response = client.post("/api/v1/service-records", json=_entry(member, tree["a1"], category="civility"),
                           headers=auth(admin))
    assert response.status_code == 201
    body = response.get_json()
    assert (body["status"], body["hours"], body["source"], body["category"]) == ("pending", 3.0, "manual", "civility")
    assert body["started_at"] == "2030-03-01T09:00:00+08:00"
    activity = make_activity(tree["a1"], category="health")
    linked = client.post("/api/v1/service-records", headers=auth(admin), json=_entry(
        member, tree["a1"], activity_id=activity.id, community_id=None)).get_json()
    assert (linked["activity_id"], linked["community_id"], linked["category"]) == (activity.id, tree["a1"].id,
                                                                                    "health")


def test_a_span_across_midnight_counts_its_real_length(client):
    tree = region_tree()
    headers = auth(make_staff("community_admin", tree["a1"]))
    member = make_member()
    night = _entry(member, tree["a1"], started_at="2030-03-01T22:00:00", ended_at="2030-03-02T01:30:00")
    assert client.post("/api/v1/service-records", json={**night, "hours": 3.5}, headers=headers).status_code == 201
    too_many = client.post("/api/v1/service-records", json={**night, "hours": 3.51}, headers=headers)
    assert too_many.status_code == 422 and list(too_many.get_json()["error"]["details"]) == ["hours"]


def test_manual_entry_validation_names_the_field(client):
    tree = region_tree()
    headers = auth(make_staff("community_admin", tree["a1"]))
    member = make_member()
    cases = [
        (_entry(member, tree["a1"], ended_at="2030-03-01T08:00:00"), "ended_at"),
        (_entry(member, tree["b1"], activity_id=make_activity(tree["a1"]).id), "community_id"),
        (_entry(member, tree["a1"], member_id=999999), "member_id"),
        (_entry(member, tree["a1"], activity_id=999999), "activity_id"),
        (_entry(member, tree["a1"], hours=1.234), "hours"),
        (_entry(member, tree["a1"], hours=-1), "hours"),
        (_entry(member, tree["a1"], started_at="yesterday"), "started_at"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/service-records", json=body, headers=headers)
        assert response.status_code == 422, field
        assert field in response.get_json()["error"]["details"], field
    assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 0


def test_without_an_activity_a_community_admin_need_not_name_its_community(client):
    """Contract v1.1, "Fixes to v1 readings": a community admin's own community is used; a caller covering several
    communities (a street admin, or someone with two community roles) must name one."""
    tree = region_tree()
    member = make_member()
    body = _entry(member, tree["a1"], community_id=None)
    created = client.post("/api/v1/service-records", json=body, headers=auth(make_staff("community_admin", tree["a1"])))
    assert created.status_code == 201 and created.get_json()["community_id"] == tree["a1"].id
    two_communities = make_staff("community_admin", tree["a1"])
    two_communities.roles.append(RoleAssignment(role="community_admin", scope_type="region", scope_id=tree["a2"].id))
    db.session.commit()
    for caller in (make_staff("street_admin", tree["street_a"]), two_communities, make_staff("sysadmin")):
        response = client.post("/api/v1/service-records", json=body, headers=auth(caller))
        assert response.status_code == 422 and list(response.get_json()["error"]["details"]) == ["community_id"]
    named = client.post("/api/v1/service-records", json=_entry(member, tree["a2"]),
                        headers=auth(make_staff("street_admin", tree["street_a"])))
    assert named.status_code == 201 and named.get_json()["community_id"] == tree["a2"].id
    outside = client.post("/api/v1/service-records", json=_entry(member, tree["b1"]),
                          headers=auth(make_staff("street_admin", tree["street_a"])))
    assert outside.status_code == 404 and error_code(outside) == "region_not_found"
    assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 2


def test_entries_only_by_staff_over_the_community(client):
    tree = region_tree()
    member = make_member()
    assert client.post("/api/v1/service-records", json=_entry(member, tree["a1"]),
                       headers=auth(make_member())).status_code == 403
    outsider = make_staff("community_admin", tree["b1"])
    assert client.post("/api/v1/service-records", json=_entry(member, tree["a1"]),
                       headers=auth(outsider)).status_code == 404


def test_approval_credits_ten_points_an_hour_once_and_notifies(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member = make_member()
    record = make_record(member, tree["a1"], hours="2.50")
    response = client.post(f"/api/v1/service-records/{record.id}/approve", headers=auth(admin))
    assert response.status_code == 200 and response.get_json()["status"] == "approved"
    assert points.balance(member.id) == 25
    again = client.post(f"/api/v1/service-records/{record.id}/approve", headers=auth(admin))
    assert again.status_code == 409 and error_code(again) == "invalid_state"
    reject = client.post(f"/api/v1/service-records/{record.id}/reject", json={"reason": "x"}, headers=auth(admin))
    assert reject.status_code == 409
    assert points.balance(member.id) == 25
    assert db.session.scalar(select(Notification.kind).where(Notification.member_id == member.id)) == "hours_approved"
    me = client.get("/api/v1/me", headers=auth(member)).get_json()
    assert me["approved_hours"] == 2.5 and me["points"] == 25


def test_rejection_keeps_the_reason_and_credits_nothing(client):
    tree = region_tree()
    admin = make_staff("street_admin", tree["street_a"])
    member = make_member()
    record = make_record(member, tree["a2"])
    response = client.post(f"/api/v1/service-records/{record.id}/reject", json={"reason": "未到现场"},
                           headers=auth(admin))
    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["reason"]) == ("rejected", "未到现场")
    assert points.balance(member.id) == 0
    assert client.post(f"/api/v1/service-records/{record.id}/approve", headers=auth(admin)).status_code == 409


def test_nobody_decides_on_their_own_record(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    record = make_record(admin, tree["a1"])
    for action in ("approve", "reject"):
        response = client.post(f"/api/v1/service-records/{record.id}/{action}", json={}, headers=auth(admin))
        assert response.status_code == 403 and error_code(response) == "own_record"
    response = client.patch(f"/api/v1/service-records/{record.id}", json={"hours": 1, "reason": "x"},
                            headers=auth(admin))
    assert response.status_code == 403 and error_code(response) == "own_record"


def test_admin_of_another_community_cannot_read_or_act(client):
    tree = region_tree()
    member = make_member()
    record = make_record(member, tree["a1"])
    outsider = make_staff("community_admin", tree["b1"])
    headers = auth(outsider)
    assert client.get(f"/api/v1/service-records/{record.id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/service-records/{record.id}/history", headers=headers).status_code == 404
    assert client.post(f"/api/v1/service-records/{record.id}/approve", headers=headers).status_code == 404
    assert client.post(f"/api/v1/service-records/{record.id}/reject", json={}, headers=headers).status_code == 404
    assert client.patch(f"/api/v1/service-records/{record.id}", json={"hours": 1, "reason": "x"},
                        headers=headers).status_code == 404
    assert client.get("/api/v1/service-records", headers=headers).get_json()["total"] == 0
    assert client.get(f"/api/v1/service-records?community_id={tree['a1'].id}",
                      headers=headers).get_json()["total"] == 0
    # A plain member sees only its own.
    assert client.get(f"/api/v1/service-records/{record.id}", headers=auth(make_member())).status_code == 404
    assert client.get(f"/api/v1/service-records/{record.id}", headers=auth(member)).status_code == 200
    assert client.get("/api/v1/service-records", headers=auth(member)).status_code == 403
    db.session.refresh(record)
    assert record.status == "pending"


def test_list_within_scope_with_filters(client):
    tree = region_tree()
    m1, m2 = make_member(), make_member()
    r1 = make_record(m1, tree["a1"], started_at=datetime(2030, 3, 1, 2, tzinfo=UTC))
    r2 = make_record(m2, tree["a2"], status="approved", started_at=datetime(2030, 3, 5, 2, tzinfo=UTC))
    make_record(m2, tree["b1"])
    headers = auth(make_staff("street_admin", tree["street_a"]))

    def ids(query=""):
        return [i["id"] for i in client.get(f"/api/v1/service-records?{query}", headers=headers).get_json()["items"]]

    assert ids() == [r2.id, r1.id]
    assert ids(f"community_id={tree['a1'].id}") == [r1.id]
    assert ids(f"member_id={m2.id}") == [r2.id]
    assert ids("status=approved") == [r2.id]
    assert ids("from=2030-03-02&to=2030-03-05") == [r2.id]
    assert ids("to=2030-03-01") == [r1.id]


def test_unit_admin_sees_its_members_hours(client):
    tree = region_tree()
    unit = make_unit(tree["b2"])
    worker = make_member(unit=unit)
    record = make_record(worker, tree["a1"])
    make_record(make_member(), tree["a1"])
    unit_admin = make_staff("unit_admin", unit)
    items = client.get("/api/v1/service-records", headers=auth(unit_admin)).get_json()["items"]
    assert [i["id"] for i in items] == [record.id]
    # Seeing is not deciding: approval belongs to the community's staff.
    assert client.post(f"/api/v1/service-records/{record.id}/approve", headers=auth(unit_admin)).status_code == 403


def test_correction_needs_a_reason_and_is_kept_in_the_history(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"], name="李书记")
    member = make_member()
    record = make_record(member, tree["a1"], hours="2.00")
    url = f"/api/v1/service-records/{record.id}"
    client.post(f"{url}/approve", headers=auth(admin))
    assert points.balance(member.id) == 20
    missing = client.patch(url, json={"hours": 1.5}, headers=auth(admin))
    assert missing.status_code == 422 and "reason" in missing.get_json()["error"]["details"]
    over = client.patch(url, json={"hours": 3.01, "reason": "多算"}, headers=auth(admin))
    assert over.status_code == 422 and "hours" in over.get_json()["error"]["details"]
    response = client.patch(url, json={"hours": 1.5, "reason": "提前离开"}, headers=auth(admin))
    assert response.status_code == 200 and response.get_json()["hours"] == 1.5
    # One compensating ledger entry: the balance is what 1.5 approved hours are worth.
    assert points.balance(member.id) == 15
    assert db.session.scalar(select(func.count()).select_from(PointsEntry)) == 2
    history = client.get(f"{url}/history", headers=auth(member)).get_json()
    assert [c["action"] for c in history["items"]] == ["approve", "correct"]
    correction = history["items"][1]
    assert (correction["actor_id"], correction["actor_name"], correction["reason"]) == (admin.id, "李书记", "提前离开")
    assert (correction["before"]["hours"], correction["after"]["hours"]) == (2.0, 1.5)
    assert correction["at"].endswith("+08:00")
    assert db.session.scalar(select(Notification.id).where(Notification.kind == "hours_corrected"))


def test_rejected_records_are_not_corrected(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    record = make_record(make_member(), tree["a1"], status="rejected")
    response = client.patch(f"/api/v1/service-records/{record.id}", json={"hours": 1, "reason": "x"},
                            headers=auth(admin))
    assert response.status_code == 409 and error_code(response) == "invalid_state"


def test_member_asks_for_a_correction_and_staff_accept_it(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member = make_member()
    record = make_record(member, tree["a1"], hours="1.00", status="approved")
    points.settle_record(record, "approve")
    db.session.commit()
    url = f"/api/v1/service-records/{record.id}/correction-requests"
    assert client.post(url, json={"hours": 2, "reason": "x"}, headers=auth(make_member())).status_code == 404
    assert client.post(url, json={"hours": 9, "reason": "x"}, headers=auth(member)).status_code == 422
    created = client.post(url, json={"hours": 2, "reason": "签退时手机没电"}, headers=auth(member))
    assert created.status_code == 201 and created.get_json()["status"] == "pending"
    duplicate = client.post(url, json={"hours": 1.5, "reason": "x"}, headers=auth(member))
    assert duplicate.status_code == 409 and error_code(duplicate) == "correction_pending"
    request_id = created.get_json()["id"]
    listed = client.get("/api/v1/correction-requests?status=pending", headers=auth(admin)).get_json()
    assert [i["id"] for i in listed["items"]] == [request_id]
    assert client.post(f"/api/v1/correction-requests/{request_id}/accept", headers=auth(member)).status_code == 403
    accepted = client.post(f"/api/v1/correction-requests/{request_id}/accept", headers=auth(admin))
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    db.session.refresh(record)
    assert record.hours == Decimal("2.00") and points.balance(member.id) == 20
    change = db.session.scalar(select(RecordChange).where(RecordChange.action == "correct"))
    assert change.actor_id == admin.id and "签退时手机没电" in change.reason
    again = client.post(f"/api/v1/correction-requests/{request_id}/accept", headers=auth(admin))
    assert again.status_code == 409 and error_code(again) == "invalid_state"


def test_staff_decline_a_correction_request_with_a_reason(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member = make_member()
    record = make_record(member, tree["a1"], hours="1.00")
    request_id = client.post(f"/api/v1/service-records/{record.id}/correction-requests",
                             json={"hours": 2, "reason": "少算"}, headers=auth(member)).get_json()["id"]
    outsider = make_staff("community_admin", tree["b1"])
    assert client.post(f"/api/v1/correction-requests/{request_id}/decline", json={},
                       headers=auth(outsider)).status_code == 404
    declined = client.post(f"/api/v1/correction-requests/{request_id}/decline", json={"reason": "签到记录为准"},
                           headers=auth(admin))
    assert declined.status_code == 200
    assert (declined.get_json()["status"], declined.get_json()["decline_reason"]) == ("declined", "签到记录为准")
    db.session.refresh(record)
    assert record.hours == Decimal("1.00")
    assert db.session.scalar(select(Notification.kind).where(Notification.member_id == member.id)) == \
        "correction_declined"
    # Answered: the member may ask again.
    assert client.post(f"/api/v1/service-records/{record.id}/correction-requests",
                       json={"hours": 1.5, "reason": "再议"}, headers=auth(member)).status_code == 201


def test_my_records_and_hours_follow_local_years_and_approved_only(client):
    tree = region_tree()
    member = make_member()
    # 2029-12-31 23:30 in Beijing is 15:30 UTC: it belongs to 2029.
    make_record(member, tree["a1"], hours="1.00", status="approved", category="health",
                started_at=datetime(2029, 12, 31, 15, 30, tzinfo=UTC))
    make_record(member, tree["a1"], hours="2.00", status="approved", category="health",
                started_at=datetime(2029, 12, 31, 16, 30, tzinfo=UTC))
    make_record(member, tree["a1"], hours="1.25", status="approved", category="culture",
                started_at=datetime(2030, 6, 1, 2, tzinfo=UTC))
    make_record(member, tree["a1"], hours="4.00", status="pending", started_at=datetime(2030, 6, 2, 2, tzinfo=UTC))
    make_record(member, tree["a1"], hours="8.00", status="rejected", started_at=datetime(2030, 6, 3, 2, tzinfo=UTC))
    make_record(make_member(), tree["a1"], hours="9.00", status="approved",
                started_at=datetime(2030, 6, 3, 2, tzinfo=UTC))
    headers = auth(member)
    body = client.get("/api/v1/me/hours?year=2030", headers=headers).get_json()
    assert body["year"] == 2030
    assert (body["approved_hours"], body["pending_hours"]) == (3.25, 4.0)
    assert body["by_category"] == {"civility": 0, "order": 0, "culture": 1.25, "health": 2.0, "environment": 0,
                                   "safety": 0}
    assert client.get("/api/v1/me/hours?year=2029", headers=headers).get_json()["approved_hours"] == 1.0
    mine = client.get("/api/v1/me/service-records", headers=headers).get_json()
    assert mine["total"] == 5
    assert client.get("/api/v1/me/service-records?status=pending", headers=headers).get_json()["total"] == 1
    assert client.get("/api/v1/me/service-records?year=2029", headers=headers).get_json()["total"] == 1
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["approved_hours"] == 4.25 and me["star_level"] == 0


def test_twenty_simultaneous_approvals_credit_points_once(live_server):
    tree = region_tree()
    admins = [make_staff("community_admin", tree["a1"]) for _ in range(4)]
    member = make_member()
    record = make_record(member, tree["a1"], hours="3.00")
    headers = [auth(a) for a in admins]
    url = f"{live_server}/api/v1/service-records/{record.id}/approve"
    member_id = member.id
    db.session.commit()
    results = fire_at_once(20, lambda i: requests.post(url, headers=headers[i % 4], timeout=60))
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 19
    db.session.expire_all()
    assert points.balance(member_id) == 30
    assert db.session.scalar(select(func.count()).select_from(PointsEntry)) == 1
    assert db.session.scalar(select(func.count()).select_from(RecordChange).where(
        RecordChange.action == "approve")) == 1


def test_unknown_record_is_404(client):
    admin = make_staff("sysadmin")
    for response in (client.get("/api/v1/service-records/999999", headers=auth(admin)),
                     client.post("/api/v1/service-records/999999/approve", headers=auth(admin)),
                     client.post("/api/v1/correction-requests/999999/accept", headers=auth(admin))):
        assert response.status_code == 404
