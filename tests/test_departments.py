"""Departments of streets and districts, and the department_admin role: created by staff of the department's
region or above, seeing the appeals escalated to its department and nothing else."""

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Department
from tests.factories import auth, error_code, make_department, make_member, make_staff, region_tree


@pytest.fixture
def tree():
    tree = region_tree()
    tree["street_admin"] = make_staff("street_admin", tree["street_a"])
    tree["community_admin"] = make_staff("community_admin", tree["a1"])
    return tree


def create(client, user, region, name="城管执法队"):
    return client.post("/api/v1/departments", json={"region_id": region.id, "name": name}, headers=auth(user))


def test_street_staff_create_a_department_unique_by_name(client, tree):
    response = create(client, tree["street_admin"], tree["street_a"], "  城管执法队 ")
    assert response.status_code == 201
    assert response.get_json() == {"id": response.get_json()["id"], "region_id": tree["street_a"].id,
                                   "region_name": "甲街道", "name": "城管执法队"}
    again = create(client, tree["street_admin"], tree["street_a"], "城管执法队")
    assert again.status_code == 409 and error_code(again) == "department_name_taken"
    district = make_staff("district_admin", tree["district"])
    assert create(client, district, tree["street_a"], "房管所").status_code == 201
    assert create(client, district, tree["district"], "城管执法队").status_code == 201
    assert db.session.scalar(select(func.count()).select_from(Department)) == 3


def test_a_department_belongs_to_a_street_or_a_district(client, tree):
    for region_id in (tree["a1"].id, 999_999, "x"):
        response = client.post("/api/v1/departments", json={"region_id": region_id, "name": "城管"},
                               headers=auth(tree["street_admin"]))
        assert response.status_code == 422 and list(response.get_json()["error"]["details"]) == ["region_id"]
    blank = create(client, tree["street_admin"], tree["street_a"], "   ")
    assert blank.status_code == 422 and "name" in blank.get_json()["error"]["details"]


def test_only_staff_of_the_region_or_above_create_one(client, tree):
    other_street = create(client, tree["street_admin"], tree["street_b"])
    community = create(client, tree["community_admin"], tree["street_a"])
    member = create(client, make_member(), tree["street_a"])
    assert other_street.status_code == 404 and community.status_code == 404
    assert member.status_code == 403 and error_code(member) == "staff_only"


def test_a_community_lists_the_departments_it_may_escalate_to(client, tree):
    own = make_department(tree["street_a"], "甲街道城管")
    district = make_department(tree["district"], "区住建委")
    make_department(tree["street_b"], "乙街道城管")
    response = client.get(f"/api/v1/departments?community_id={tree['a1'].id}", headers=auth(tree["community_admin"]))
    assert response.status_code == 200
    assert {d["id"] for d in response.get_json()["items"]} == {own.id, district.id}
    by_region = client.get(f"/api/v1/departments?region_id={tree['street_b'].id}", headers=auth(tree["street_admin"]))
    assert [d["name"] for d in by_region.get_json()["items"]] == ["乙街道城管"]
    wrong = client.get(f"/api/v1/departments?community_id={tree['street_a'].id}", headers=auth(tree["street_admin"]))
    assert wrong.status_code == 422
    member = client.get("/api/v1/departments", headers=auth(make_member()))
    assert member.status_code == 403 and error_code(member) == "staff_only"


def test_department_admins_are_created_by_staff_of_the_departments_region(client, tree):
    department = make_department(tree["street_a"], "甲街道城管")
    body = {"username": "chengguan", "password": "password123", "name": "城管队长", "role": "department_admin",
            "scope_id": department.id}
    assert client.post("/api/v1/staff", json=body, headers=auth(tree["community_admin"])).status_code == 404
    missing = client.post("/api/v1/staff", json={**body, "scope_id": 999_999}, headers=auth(tree["street_admin"]))
    assert missing.status_code == 422 and "scope_id" in missing.get_json()["error"]["details"]
    response = client.post("/api/v1/staff", json=body, headers=auth(tree["street_admin"]))
    assert response.status_code == 201, response.get_json()
    login = client.post("/api/v1/auth/login", json={"username": "chengguan", "password": "password123"})
    token = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    me = client.get("/api/v1/me", headers=token).get_json()
    assert me["roles"] == [{"role": "department_admin", "scope_type": "department", "scope_id": department.id}]


STAFF_ENDPOINTS = [
    ("GET", "/api/v1/reports", None),
    ("GET", "/api/v1/service-records", None),
    ("GET", "/api/v1/correction-requests", None),
    ("POST", "/api/v1/wishes", {"community_id": 1, "title": "买米"}),
    ("POST", "/api/v1/needs", {"community_id": 1, "title": "扶手", "category": "养老", "source": "visit"}),
    ("POST", "/api/v1/activities", {"community_id": 1}),
    ("POST", "/api/v1/staff", {"username": "x"}),
    ("POST", "/api/v1/regions", {"name": "x", "kind": "community", "parent_id": 1}),
    ("POST", "/api/v1/departments", {"region_id": 1, "name": "x"}),
    ("POST", "/api/v1/projects/1/claim", {"unit_id": 1}),
    ("GET", "/api/v1/stats/overview", None),
]


@pytest.mark.parametrize(("method", "path", "body"), STAFF_ENDPOINTS)
def test_other_staff_endpoints_answer_a_department_admin_403_staff_only(client, tree, method, path, body):
    admin = make_staff("department_admin", make_department(tree["street_a"]))
    response = client.open(path, method=method, json=body, headers=auth(admin))
    assert response.status_code == 403 and error_code(response) == "staff_only", response.get_json()


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/regions", "/api/v1/units", "/api/v1/departments",
                                  "/api/v1/me/notifications", "/api/v1/appeals"])
def test_me_regions_units_and_departments_stay_open_to_a_department_admin(client, tree, path):
    admin = make_staff("department_admin", make_department(tree["street_a"]))
    assert client.get(path, headers=auth(admin)).status_code == 200
