"""The three lists (三个清单): needs, resources, projects and their lifecycle."""

import pytest
import requests
from sqlalchemy import func, select

from extensions import db
from models import Need, Project, Resource
from tests.conftest import fire_at_once
from tests.factories import auth, error_code, make_member, make_staff, make_unit, region_tree

API = "/api/v1"


@pytest.fixture
def world():
    tree = region_tree()
    unit = make_unit(tree["a1"], "甲医院")
    return {**tree, "unit": unit, "admin_a1": make_staff("community_admin", tree["a1"]),
            "admin_b1": make_staff("community_admin", tree["b1"]), "unit_admin": make_staff("unit_admin", unit),
            "street_admin_a": make_staff("street_admin", tree["street_a"]), "member": make_member()}


def need(client, world, community="a1", **fields):
    body = {"community_id": world[community].id, "title": "楼道照明", "category": "环境", "source": "hotline", **fields}
    staff = world["admin_a1"] if community == "a1" else world["street_admin_a"]
    response = client.post(f"{API}/needs", json=body, headers=auth(staff))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def resource(client, world, user="admin_a1", **fields):
    body = {"owner_type": "community", "owner_id": world["a1"].id, "title": "活动室", "kind": "venue", **fields}
    response = client.post(f"{API}/resources", json=body, headers=auth(world[user]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def project(client, world, need_ids, resource_ids=()):
    body = {"community_id": world["a1"].id, "title": "楼道灯改造", "need_ids": need_ids,
            "resource_ids": list(resource_ids)}
    return client.post(f"{API}/projects", json=body, headers=auth(world["admin_a1"]))


def test_community_staff_record_needs_with_their_source(client, world):
    body = need(client, world, source="survey")
    assert body["status"] == "open" and body["source"] == "survey"
    response = client.post(f"{API}/needs", json={"community_id": world["a1"].id, "title": "x", "category": "y",
                                                 "source": "rumour"}, headers=auth(world["admin_a1"]))
    assert response.status_code == 422 and "source" in response.get_json()["error"]["details"]
    body = {"community_id": world["a1"].id, "title": "x", "category": "y", "source": "visit"}
    assert client.post(f"{API}/needs", json=body, headers=auth(world["member"])).status_code == 403
    assert client.post(f"{API}/needs", json=body, headers=auth(world["admin_b1"])).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Need)) == 1


def test_resources_of_a_community_and_of_a_unit(client, world):
    venue = resource(client, world)
    assert venue["community_id"] == world["a1"].id and venue["status"] == "available"
    people = resource(client, world, user="unit_admin", owner_type="unit", owner_id=world["unit"].id,
                      title="医生义诊", kind="people")
    # A unit's resource serves in the unit's community.
    assert people["community_id"] == world["a1"].id
    body = {"owner_type": "unit", "owner_id": world["unit"].id, "title": "x", "kind": "funds"}
    assert client.post(f"{API}/resources", json=body, headers=auth(world["member"])).status_code == 403
    assert client.post(f"{API}/resources", json=body, headers=auth(world["admin_b1"])).status_code == 404
    body = {"owner_type": "community", "owner_id": world["a1"].id, "title": "x", "kind": "cash"}
    assert client.post(f"{API}/resources", json=body, headers=auth(world["admin_a1"])).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Resource)) == 2


def test_project_lifecycle_moves_its_needs(client, world):
    first, second = need(client, world), need(client, world, title="加装扶手")
    venue = resource(client, world)
    response = project(client, world, [first["id"], second["id"]], [venue["id"]])
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "proposed"
    assert sorted(n["id"] for n in body["needs"]) == sorted([first["id"], second["id"]])
    assert [r["id"] for r in body["resources"]] == [venue["id"]]
    headers = auth(world["admin_a1"])
    for step, status in (("approve", "approved"), ("start", "in_progress"), ("finish", "done")):
        response = client.post(f"{API}/projects/{body['id']}/{step}", headers=headers)
        assert response.status_code == 200 and response.get_json()["status"] == status
        if step == "approve":
            assert {n["status"] for n in response.get_json()["needs"]} == {"matched"}
    assert {n.status for n in db.session.scalars(select(Need))} == {"met"}


def test_project_steps_out_of_order_are_invalid_state(client, world):
    body = project(client, world, [need(client, world)["id"]]).get_json()
    headers = auth(world["admin_a1"])
    for step in ("start", "finish"):
        response = client.post(f"{API}/projects/{body['id']}/{step}", headers=headers)
        assert response.status_code == 409 and error_code(response) == "invalid_state"
    client.post(f"{API}/projects/{body['id']}/approve", headers=headers)
    response = client.post(f"{API}/projects/{body['id']}/approve", headers=headers)
    assert response.status_code == 409 and error_code(response) == "invalid_state"
    assert db.session.get(Project, body["id"]).status == "approved"


def test_project_steps_need_staff_of_its_community(client, world):
    body = project(client, world, [need(client, world)["id"]]).get_json()
    assert client.post(f"{API}/projects/{body['id']}/approve", headers=auth(world["member"])).status_code == 403
    assert client.post(f"{API}/projects/{body['id']}/approve", headers=auth(world["unit_admin"])).status_code == 403
    assert client.post(f"{API}/projects/{body['id']}/approve", headers=auth(world["admin_b1"])).status_code == 404
    street_a = make_staff("street_admin", world["street_a"])
    assert client.post(f"{API}/projects/{body['id']}/approve", headers=auth(street_a)).status_code == 200
    assert client.post(f"{API}/projects/999/approve", headers=auth(street_a)).status_code == 404


def test_project_links_only_its_own_communitys_needs_and_resources(client, world):
    other_need = need(client, world, community="a2")
    response = project(client, world, [other_need["id"]])
    assert response.status_code == 422 and "need_ids" in response.get_json()["error"]["details"]
    own = need(client, world)
    response = project(client, world, [own["id"]], [12345])
    assert response.status_code == 422 and "resource_ids" in response.get_json()["error"]["details"]
    response = project(client, world, [])
    assert response.status_code == 422 and "need_ids" in response.get_json()["error"]["details"]
    assert db.session.scalar(select(func.count()).select_from(Project)) == 0


def test_a_unit_admin_claims_a_project_once(client, world):
    body = project(client, world, [need(client, world)["id"]]).get_json()
    url = f"{API}/projects/{body['id']}/claim"
    response = client.post(url, json={"unit_id": world["unit"].id}, headers=auth(world["unit_admin"]))
    assert response.status_code == 200 and response.get_json()["unit_id"] == world["unit"].id
    other_unit = make_unit(world["a2"])
    other_admin = make_staff("unit_admin", other_unit)
    response = client.post(url, json={"unit_id": other_unit.id}, headers=auth(other_admin))
    assert response.status_code == 409 and error_code(response) == "already_claimed"
    # Only the unit's own admin claims for it.
    response = client.post(url, json={"unit_id": world["unit"].id}, headers=auth(world["admin_a1"]))
    assert response.status_code == 404
    assert client.post(url, json={"unit_id": world["unit"].id}, headers=auth(world["member"])).status_code == 403
    assert db.session.get(Project, body["id"]).unit_id == world["unit"].id


def test_a_done_project_cannot_be_claimed(client, world):
    body = project(client, world, [need(client, world)["id"]]).get_json()
    headers = auth(world["admin_a1"])
    for step in ("approve", "start", "finish"):
        client.post(f"{API}/projects/{body['id']}/{step}", headers=headers)
    response = client.post(f"{API}/projects/{body['id']}/claim", json={"unit_id": world["unit"].id},
                           headers=auth(world["unit_admin"]))
    assert response.status_code == 409 and error_code(response) == "invalid_state"


def test_simultaneous_approvals_apply_once(live_server, world):
    need_row = Need(community_id=world["a1"].id, title="x", category="y", source="online", status="open")
    project_row = Project(community_id=world["a1"].id, title="p", status="proposed", needs=[need_row])
    db.session.add(project_row)
    db.session.commit()
    url = f"{live_server}{API}/projects/{project_row.id}/approve"
    headers = [auth(make_staff("community_admin", world["a1"])) for _ in range(6)]
    db.session.remove()
    responses = fire_at_once(6, lambda i: requests.post(url, headers=headers[i], timeout=30))
    assert sorted(r.status_code for r in responses) == [200] + [409] * 5
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"invalid_state"}


def test_lists_filter_by_community_and_status(client, world):
    first = need(client, world)
    need(client, world, community="a2", source="meeting")
    resource(client, world)
    project(client, world, [first["id"]])
    headers = auth(world["member"])
    page = client.get(f"{API}/needs?community_id={world['a1'].id}", headers=headers).get_json()
    assert page["total"] == 1 and page["items"][0]["id"] == first["id"]
    assert client.get(f"{API}/needs?source=meeting", headers=headers).get_json()["total"] == 1
    assert client.get(f"{API}/needs?status=open", headers=headers).get_json()["total"] == 2
    assert client.get(f"{API}/resources?community_id={world['a2'].id}", headers=headers).get_json()["total"] == 0
    assert client.get(f"{API}/resources?kind=venue", headers=headers).get_json()["total"] == 1
    assert client.get(f"{API}/projects?status=proposed", headers=headers).get_json()["total"] == 1
    assert client.get(f"{API}/projects?status=done", headers=headers).get_json()["total"] == 0
    assert client.get(f"{API}/projects?status=nonsense", headers=headers).status_code == 422
