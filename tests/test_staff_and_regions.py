from extensions import db
from models import Region, User
from tests.factories import auth, error_code, make_member, make_staff, make_unit, region_tree


def create_staff(client, headers, role, scope_id, username="newstaff"):
    return client.post("/api/v1/staff", headers=headers, json={
        "username": username, "password": "longpassword", "name": "新同事", "role": role, "scope_id": scope_id})


def test_sysadmin_creates_a_district_admin_who_can_sign_in(client):
    tree = region_tree()
    response = create_staff(client, auth(make_staff("sysadmin")), "district_admin", tree["district"].id)
    assert response.status_code == 201
    assert response.get_json()["roles"] == [
        {"role": "district_admin", "scope_type": "region", "scope_id": tree["district"].id}]
    login = client.post("/api/v1/auth/login", json={"username": "newstaff", "password": "longpassword"})
    assert login.status_code == 200


def test_street_admin_creates_staff_only_within_its_street(client):
    tree = region_tree()
    street_admin = auth(make_staff("street_admin", tree["street_a"]))
    assert create_staff(client, street_admin, "community_admin", tree["a1"].id, "ca1").status_code == 201
    unit = make_unit(tree["a2"])
    assert create_staff(client, street_admin, "unit_admin", unit.id, "ua1").status_code == 201
    outside = create_staff(client, street_admin, "community_admin", tree["b1"].id, "cb1")
    assert outside.status_code == 404
    assert db.session.query(User).filter_by(username="cb1").count() == 0


def test_members_and_unit_admins_cannot_create_staff(client):
    tree = region_tree()
    member = make_member()
    response = create_staff(client, auth(member), "community_admin", tree["a1"].id)
    assert response.status_code == 403
    unit_admin = make_staff("unit_admin", make_unit(tree["a1"]))
    assert create_staff(client, auth(unit_admin), "community_admin", tree["a1"].id).status_code == 403


def test_staff_scope_must_match_the_role(client):
    tree = region_tree()
    admin = auth(make_staff("sysadmin"))
    response = create_staff(client, admin, "street_admin", tree["a1"].id)
    assert response.status_code == 422
    assert "scope_id" in response.get_json()["error"]["details"]
    assert create_staff(client, admin, "unit_admin", 9999).status_code == 422
    bad_role = create_staff(client, admin, "sysadmin", tree["a1"].id)
    assert bad_role.status_code == 422 and "role" in bad_role.get_json()["error"]["details"]


def test_duplicate_username_is_409(client):
    tree = region_tree()
    admin = auth(make_staff("sysadmin"))
    assert create_staff(client, admin, "community_admin", tree["a1"].id).status_code == 201
    response = create_staff(client, admin, "community_admin", tree["a2"].id)
    assert response.status_code == 409 and error_code(response) == "username_taken"


def test_region_tree_rules(client):
    admin = auth(make_staff("sysadmin"))
    district = client.post("/api/v1/regions", headers=admin, json={"name": "东城区", "kind": "district"})
    assert district.status_code == 201
    district_id = district.get_json()["id"]
    street = client.post("/api/v1/regions", headers=admin,
                         json={"name": "东华门街道", "kind": "street", "parent_id": district_id})
    assert street.status_code == 201
    community = client.post("/api/v1/regions", headers=admin, json={
        "name": "多福巷社区", "kind": "community", "parent_id": street.get_json()["id"],
        "contact_phone": "010-65250000"})
    assert community.status_code == 201
    created = db.session.get(Region, community.get_json()["id"])
    assert created.path == f"/{district_id}/{street.get_json()['id']}/{created.id}/"

    wrong = [
        {"name": "x", "kind": "district", "parent_id": district_id},
        {"name": "x", "kind": "street"},
        {"name": "x", "kind": "community", "parent_id": district_id},
        {"name": "x", "kind": "street", "parent_id": community.get_json()["id"]},
        {"name": "x", "kind": "town"},
    ]
    for body in wrong:
        response = client.post("/api/v1/regions", headers=admin, json=body)
        assert response.status_code == 422, body


def test_only_admins_above_may_create_regions(client):
    tree = region_tree()
    street_a = auth(make_staff("street_admin", tree["street_a"]))
    ok = client.post("/api/v1/regions", headers=street_a,
                     json={"name": "新社区", "kind": "community", "parent_id": tree["street_a"].id})
    assert ok.status_code == 201
    other = client.post("/api/v1/regions", headers=street_a,
                        json={"name": "新社区", "kind": "community", "parent_id": tree["street_b"].id})
    assert other.status_code == 404
    district = client.post("/api/v1/regions", headers=street_a, json={"name": "新区", "kind": "district"})
    assert district.status_code == 403
    member = client.post("/api/v1/regions", headers=auth(make_member()),
                         json={"name": "新社区", "kind": "community", "parent_id": tree["street_a"].id})
    assert member.status_code == 403


def test_any_signed_in_user_lists_regions(client):
    tree = region_tree()
    headers = auth(make_member())
    streets = client.get(f"/api/v1/regions?kind=street&parent_id={tree['district'].id}", headers=headers).get_json()
    assert [r["name"] for r in streets["items"]] == ["甲街道", "乙街道"]
    assert streets["total"] == 2 and streets["page"] == 1 and streets["per_page"] == 20
    assert client.get(f"/api/v1/regions/{tree['a1'].id}", headers=headers).get_json()["kind"] == "community"
    assert client.get("/api/v1/regions/99999", headers=headers).status_code == 404
    assert client.get("/api/v1/regions").status_code == 401


def test_units_created_by_community_staff_and_searched_by_members(client):
    tree = region_tree()
    community_admin = auth(make_staff("community_admin", tree["a1"]))
    response = client.post("/api/v1/units", headers=community_admin,
                           json={"name": "北京某某科技有限公司", "kind": "enterprise", "community_id": tree["a1"].id})
    assert response.status_code == 201
    outside = client.post("/api/v1/units", headers=community_admin,
                          json={"name": "外单位", "kind": "school", "community_id": tree["b1"].id})
    assert outside.status_code == 404
    bad = client.post("/api/v1/units", headers=community_admin,
                      json={"name": "x", "kind": "bank", "community_id": tree["a1"].id})
    assert bad.status_code == 422 and "kind" in bad.get_json()["error"]["details"]
    member = auth(make_member())
    found = client.get("/api/v1/units?q=科技", headers=member).get_json()
    assert [u["name"] for u in found["items"]] == ["北京某某科技有限公司"]
    assert client.get("/api/v1/units?q=%25", headers=member).get_json()["total"] == 0
    assert client.get("/api/v1/units?q=' OR 1=1 --", headers=member).get_json()["total"] == 0
