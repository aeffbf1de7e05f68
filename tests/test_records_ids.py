"""Ids no row can have (beyond the 32-bit id columns) are "not found" or a validation error, never a crash."""

from tests.factories import auth, make_staff, region_tree

BIG = 10**30
WINDOW = {"started_at": "2030-01-01T09:00:00", "ended_at": "2030-01-01T10:00:00"}


def test_oversized_ids_in_paths_are_not_found(client):
    headers = auth(make_staff("sysadmin"))
    for method, url in [
        ("get", f"/api/v1/activities/{BIG}"), ("get", f"/api/v1/activities/{2**40}"),
        ("post", f"/api/v1/activities/{BIG}/signups"), ("delete", f"/api/v1/activities/{BIG}/signups/me"),
        ("get", f"/api/v1/activities/{BIG}/qrcode"), ("get", f"/api/v1/posts/{BIG}/qrcode"),
        ("get", f"/api/v1/service-records/{BIG}"), ("get", f"/api/v1/service-records/{BIG}/history"),
        ("post", f"/api/v1/service-records/{BIG}/approve"), ("post", f"/api/v1/correction-requests/{BIG}/accept"),
    ]:
        assert getattr(client, method)(url, headers=headers).status_code == 404, url
    assert client.patch(f"/api/v1/activities/{BIG}", json={"title": "x"}, headers=headers).status_code == 404


def test_oversized_ids_in_bodies_and_queries_are_validation_errors(client):
    tree = region_tree()
    headers = auth(make_staff("sysadmin"))
    for url in (f"/api/v1/activities?community_id={BIG}", f"/api/v1/service-records?member_id={BIG}",
                f"/api/v1/service-records/export?community_id={BIG}"):
        assert client.get(url, headers=headers).status_code == 422, url
    record = {"member_id": BIG, "community_id": tree["a1"].id, "hours": 1, **WINDOW}
    response = client.post("/api/v1/service-records", json=record, headers=headers)
    assert response.status_code == 422 and "member_id" in response.get_json()["error"]["details"]
    activity = {"community_id": BIG, "title": "x", "category": "order", "capacity": 1,
                "starts_at": WINDOW["started_at"], "ends_at": WINDOW["ended_at"], "location": {"lat": 1, "lng": 1}}
    response = client.post("/api/v1/activities", json=activity, headers=headers)
    assert response.status_code == 422 and "community_id" in response.get_json()["error"]["details"]
