"""Activities and sign-ups (CONTRACT: Activities and sign-ups)."""

from datetime import timedelta

import requests
from sqlalchemy import func, select

from clock import utcnow
from extensions import db
from models import Activity, Notification, Signup
from tests.activity_factories import make_activity
from tests.conftest import fire_at_once
from tests.factories import auth, error_code, make_member, make_staff, region_tree

BODY = {
    "title": "楼道清理",
    "description": "清理楼道杂物",
    "category": "environment",
    "starts_at": "2030-05-01T09:00:00",
    "ends_at": "2030-05-01T11:30:00",
    "capacity": 3,
    "location": {"address": "示范路 1 号", "lat": 39.9289, "lng": 116.4177, "radius_m": 150},
    "requires_signup": True,
}


def _body(community, **changes):
    return {**BODY, "community_id": community.id, **changes}


def test_community_admin_publishes_an_activity_in_local_time(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    response = client.post("/api/v1/activities", json=_body(tree["a1"]), headers=auth(admin))
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "published"
    assert body["starts_at"] == "2030-05-01T09:00:00+08:00"
    assert body["location"] == {"address": "示范路 1 号", "lat": 39.9289, "lng": 116.4177, "radius_m": 150}
    assert body["signed_up"] == 0 and body["waitlisted"] == 0
    activity = db.session.get(Activity, body["id"])
    assert activity.starts_at.isoformat() == "2030-05-01T01:00:00+00:00"
    assert activity.created_by == admin.id


def test_activity_validation_names_each_field(client):
    tree = region_tree()
    headers = auth(make_staff("community_admin", tree["a1"]))
    cases = [
        (_body(tree["a1"], ends_at="2030-05-01T08:00:00"), "ends_at"),
        (_body(tree["a1"], capacity=0), "capacity"),
        (_body(tree["a1"], category="sports"), "category"),
        (_body(tree["a1"], location={"lat": 91, "lng": 116.4}), "location"),
        (_body(tree["a1"], location={"lat": 39.9, "lng": 181}), "location"),
        (_body(tree["a1"], title=""), "title"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/activities", json=body, headers=headers)
        assert response.status_code == 422, field
        assert field in response.get_json()["error"]["details"]
    assert client.post("/api/v1/activities", json=_body(tree["street_a"]), headers=headers).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 0


def test_only_staff_over_the_community_may_create_edit_or_cancel(client):
    tree = region_tree()
    member = make_member()
    other_admin = make_staff("community_admin", tree["b1"])
    street_admin = make_staff("street_admin", tree["street_a"])
    response = client.post("/api/v1/activities", json=_body(tree["a1"]), headers=auth(member))
    assert response.status_code == 403 and error_code(response) == "staff_only"
    assert client.post("/api/v1/activities", json=_body(tree["a1"]), headers=auth(other_admin)).status_code == 404
    created = client.post("/api/v1/activities", json=_body(tree["a1"]), headers=auth(street_admin))
    assert created.status_code == 201
    activity_id = created.get_json()["id"]
    assert client.patch(f"/api/v1/activities/{activity_id}", json={"title": "x"},
                        headers=auth(other_admin)).status_code == 404
    assert client.post(f"/api/v1/activities/{activity_id}/cancel", headers=auth(member)).status_code == 403
    assert client.post(f"/api/v1/activities/{activity_id}/cancel", headers=auth(other_admin)).status_code == 404
    assert db.session.get(Activity, activity_id).status == "published"


def test_edit_keeps_the_window_valid_and_capacity_above_confirmed(client):
    tree = region_tree()
    headers = auth(make_staff("community_admin", tree["a1"]))
    activity = make_activity(tree["a1"], capacity=2)
    members = [make_member() for _ in range(3)]
    for m in members:
        client.post(f"/api/v1/activities/{activity.id}/signups", headers=auth(m))
    url = f"/api/v1/activities/{activity.id}"
    response = client.patch(url, json={"ends_at": "2000-01-01T00:00:00"}, headers=headers)
    assert response.status_code == 422 and "ends_at" in response.get_json()["error"]["details"]
    response = client.patch(url, json={"capacity": 1}, headers=headers)
    assert response.status_code == 422 and "capacity" in response.get_json()["error"]["details"]
    response = client.patch(url, json={"community_id": tree["b1"].id}, headers=headers)
    assert response.status_code == 422
    response = client.patch(url, json={"capacity": 3, "title": "新标题", "location": {"lat": 40.0, "lng": 116.5}},
                            headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["title"] == "新标题" and body["location"]["lat"] == 40.0
    # Raising the capacity confirmed the waitlisted member.
    assert body["signed_up"] == 3 and body["waitlisted"] == 0
    assert db.session.scalar(select(Notification.kind).where(Notification.member_id == members[2].id,
                                                             Notification.kind == "signup_promoted"))


def test_list_filters_by_community_category_and_local_dates(client):
    tree = region_tree()
    member = make_member()
    day = utcnow().replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=10)
    a = make_activity(tree["a1"], starts_at=day, category="culture")
    b = make_activity(tree["a1"], starts_at=day + timedelta(days=2), category="health")
    c = make_activity(tree["b1"], starts_at=day, category="culture")
    headers = auth(member)

    def ids(query):
        response = client.get(f"/api/v1/activities?{query}", headers=headers)
        assert response.status_code == 200
        return [item["id"] for item in response.get_json()["items"]]

    assert ids("") == [a.id, c.id, b.id]
    assert ids(f"community_id={tree['a1'].id}") == [a.id, b.id]
    assert ids("category=culture") == [a.id, c.id]
    local_day = (day + timedelta(hours=8)).date()
    assert ids(f"from={local_day + timedelta(days=1)}") == [b.id]
    assert ids(f"to={local_day}") == [a.id, c.id]
    assert client.get("/api/v1/activities?category=sports", headers=headers).status_code == 422


def test_sign_up_confirms_until_full_then_waitlists(client):
    tree = region_tree()
    activity = make_activity(tree["a1"], capacity=2)
    members = [make_member() for _ in range(4)]
    statuses = [client.post(f"/api/v1/activities/{activity.id}/signups", headers=auth(m)) for m in members]
    assert [r.status_code for r in statuses] == [201] * 4
    assert [r.get_json()["status"] for r in statuses] == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    again = client.post(f"/api/v1/activities/{activity.id}/signups", headers=auth(members[0]))
    assert again.status_code == 409 and error_code(again) == "already_signed_up"
    detail = client.get(f"/api/v1/activities/{activity.id}", headers=auth(members[2])).get_json()
    assert (detail["signed_up"], detail["waitlisted"], detail["my_signup"]) == (2, 2, "waitlisted")
    kinds = db.session.scalars(select(Notification.kind).order_by(Notification.id)).all()
    assert kinds == ["signup_confirmed", "signup_confirmed", "signup_waitlisted", "signup_waitlisted"]


def test_withdrawing_promotes_the_longest_waiting_member(client):
    tree = region_tree()
    activity = make_activity(tree["a1"], capacity=1)
    first, second, third = make_member(), make_member(), make_member()
    for m in (first, second, third):
        client.post(f"/api/v1/activities/{activity.id}/signups", headers=auth(m))
    response = client.delete(f"/api/v1/activities/{activity.id}/signups/me", headers=auth(first))
    assert response.status_code == 204
    status = dict(db.session.execute(select(Signup.member_id, Signup.status)).all())
    assert status == {first.id: "cancelled", second.id: "confirmed", third.id: "waitlisted"}
    db.session.refresh(activity)
    assert activity.confirmed_count == 1
    assert db.session.scalar(select(Notification.id).where(Notification.member_id == second.id,
                                                           Notification.kind == "signup_promoted"))
    # A waitlisted member leaving frees no seat.
    assert client.delete(f"/api/v1/activities/{activity.id}/signups/me", headers=auth(third)).status_code == 204
    db.session.refresh(activity)
    assert activity.confirmed_count == 1
    missing = client.delete(f"/api/v1/activities/{activity.id}/signups/me", headers=auth(third))
    assert missing.status_code == 404 and error_code(missing) == "signup_not_found"
    # After withdrawing, the member may sign up again (and waits like anyone else).
    again = client.post(f"/api/v1/activities/{activity.id}/signups", headers=auth(first))
    assert again.status_code == 201 and again.get_json()["status"] == "waitlisted"


def test_cancelling_notifies_everyone_signed_up(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    activity = make_activity(tree["a1"], capacity=1)
    members = [make_member() for _ in range(3)]
    for m in members[:2]:
        client.post(f"/api/v1/activities/{activity.id}/signups", headers=auth(m))
    response = client.post(f"/api/v1/activities/{activity.id}/cancel", headers=auth(admin))
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    notified = set(db.session.scalars(select(Notification.member_id).where(Notification.kind == "activity_cancelled")))
    assert notified == {members[0].id, members[1].id}
    again = client.post(f"/api/v1/activities/{activity.id}/cancel", headers=auth(admin))
    assert again.status_code == 409 and error_code(again) == "invalid_state"
    late = client.post(f"/api/v1/activities/{activity.id}/signups", headers=auth(members[2]))
    assert late.status_code == 409 and error_code(late) == "invalid_state"
    edit = client.patch(f"/api/v1/activities/{activity.id}", json={"title": "x"}, headers=auth(admin))
    assert edit.status_code == 409


def test_no_sign_up_after_the_end_and_unknown_activity_is_404(client):
    tree = region_tree()
    member = make_member()
    ended = make_activity(tree["a1"], starts_at=utcnow() - timedelta(hours=3), hours=1)
    response = client.post(f"/api/v1/activities/{ended.id}/signups", headers=auth(member))
    assert response.status_code == 409 and error_code(response) == "activity_ended"
    assert client.get("/api/v1/activities/999999", headers=auth(member)).status_code == 404
    assert client.post("/api/v1/activities/999999/signups", headers=auth(member)).status_code == 404


def test_staff_list_sign_ups_in_order_of_arrival(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    activity = make_activity(tree["a1"], capacity=1)
    members = [make_member() for _ in range(2)]
    for m in members:
        client.post(f"/api/v1/activities/{activity.id}/signups", headers=auth(m))
    response = client.get(f"/api/v1/activities/{activity.id}/signups", headers=auth(admin))
    assert [(i["member_id"], i["status"]) for i in response.get_json()["items"]] == [
        (members[0].id, "confirmed"), (members[1].id, "waitlisted")]
    assert client.get(f"/api/v1/activities/{activity.id}/signups", headers=auth(members[0])).status_code == 403


def test_capacity_holds_under_thirty_simultaneous_sign_ups(live_server):
    tree = region_tree()
    activity = make_activity(tree["a1"], capacity=5)
    headers = [auth(make_member()) for _ in range(30)]
    url = f"{live_server}/api/v1/activities/{activity.id}/signups"
    db.session.commit()
    results = fire_at_once(30, lambda i: requests.post(url, headers=headers[i], timeout=60))
    assert [r.status_code for r in results] == [201] * 30
    assert sorted(r.json()["status"] for r in results).count("confirmed") == 5
    db.session.expire_all()
    confirmed = db.session.scalar(select(func.count()).select_from(Signup).where(Signup.status == "confirmed"))
    assert confirmed == 5
    assert db.session.get(Activity, activity.id).confirmed_count == 5


def test_simultaneous_withdrawals_promote_each_waiting_member_once(live_server):
    tree = region_tree()
    activity = make_activity(tree["a1"], capacity=4)
    members = [make_member() for _ in range(8)]
    headers = [auth(m) for m in members]
    member_ids = [m.id for m in members]
    activity_id = activity.id
    db.session.commit()  # no open transaction (on SQLite, a write lock) while the server works
    for h in headers:
        requests.post(f"{live_server}/api/v1/activities/{activity_id}/signups", headers=h, timeout=30)
    url = f"{live_server}/api/v1/activities/{activity_id}/signups/me"
    results = fire_at_once(4, lambda i: requests.delete(url, headers=headers[i], timeout=60))
    assert [r.status_code for r in results] == [204] * 4
    db.session.expire_all()
    status = dict(db.session.execute(select(Signup.member_id, Signup.status)).all())
    assert [status[i] for i in member_ids] == ["cancelled"] * 4 + ["confirmed"] * 4
    assert db.session.get(Activity, activity_id).confirmed_count == 4
