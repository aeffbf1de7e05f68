"""Partners of a community (五方共建): roles, units and departments, contact phones whole only to the community's
staff, validation, changes and removal, who may do what."""

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Partner
from tests.factories import auth, error_code, make_department, make_member, make_staff
from tests.governance_factories import API, governance_world


@pytest.fixture
def world():
    return governance_world()


def create(client, user, **fields):
    body = {"name": "安居物业公司", "role": "property_company", "contact_name": "张经理",
            "contact_phone": "010-64001234", **fields}
    return client.post(f"{API}/partners", json=body, headers=auth(user))


def test_community_staff_add_the_five_parties_and_a_unit(client, world):
    a1 = world["a1"].id
    for role in ("party_branch", "residents_committee", "property_company", "owners_committee", "social_org"):
        response = create(client, world["admin_a1"], community_id=a1, role=role, name=f"{role} 方")
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["role"] == role
    response = create(client, world["street_admin"], community_id=a1, role="unit", unit_id=world["unit"].id,
                      name="医院党支部", contact_phone="13912345678")
    assert response.status_code == 201
    body = response.get_json()
    assert body["unit_id"] == world["unit"].id and body["department_id"] is None
    assert body["contact_phone"] == "13912345678" and body["contact_phone_masked"] == "139****5678"
    assert set(body) >= {"id", "community_id", "name", "role", "unit_id", "department_id", "contact_name",
                         "contact_phone_masked"}


def test_a_unit_partner_needs_its_unit_and_only_a_unit_partner_names_one(client, world):
    a1 = world["a1"].id
    response = create(client, world["admin_a1"], community_id=a1, role="unit")
    assert response.status_code == 422 and list(response.get_json()["error"]["details"]) == ["unit_id"]
    response = create(client, world["admin_a1"], community_id=a1, role="party_branch", unit_id=world["unit"].id)
    assert response.status_code == 422 and "unit_id" in response.get_json()["error"]["details"]
    response = create(client, world["admin_a1"], community_id=a1, role="unit", unit_id=999_999)
    assert response.status_code == 422 and "unit_id" in response.get_json()["error"]["details"]


def test_a_department_partner_names_a_department_of_the_communitys_street_or_district(client, world):
    a1 = world["a1"].id
    street_department = make_department(world["street_a"], "城管执法队")
    district_department = make_department(world["district"], "住建委")
    other_street = make_department(world["street_b"], "乙街道城管")
    for department in (street_department, district_department):
        response = create(client, world["admin_a1"], community_id=a1, role="department", name=department.name,
                          department_id=department.id)
        assert response.status_code == 201 and response.get_json()["department_id"] == department.id
    response = create(client, world["admin_a1"], community_id=a1, role="department", department_id=other_street.id)
    assert response.status_code == 422 and "department_id" in response.get_json()["error"]["details"]
    response = create(client, world["admin_a1"], community_id=a1, role="other", department_id=street_department.id)
    assert response.status_code == 422 and "department_id" in response.get_json()["error"]["details"]
    # A department partner may also stand without one.
    assert create(client, world["admin_a1"], community_id=a1, role="department", name="区民政局").status_code == 201


@pytest.mark.parametrize("phone", ["010-64001234", "01064001234", "0755-8888888", "13800001111"])
def test_a_contact_phone_is_a_mobile_or_a_landline(client, world, phone):
    response = create(client, world["admin_a1"], community_id=world["a1"].id, contact_phone=phone)
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("phone", ["12345", "1380000111", "138000011112", "110", "64001234", "010-6400123a",
                                   "１３８００００１１１１"])
def test_other_phones_are_refused_naming_the_field(client, world, phone):
    response = create(client, world["admin_a1"], community_id=world["a1"].id, contact_phone=phone)
    assert response.status_code == 422, phone
    assert list(response.get_json()["error"]["details"]) == ["contact_phone"]


def test_anyone_lists_partners_with_phones_masked_but_for_the_communitys_staff(client, world):
    a1 = world["a1"].id
    for user in (world["member"], world["unit_admin"], world["admin_b1"]):
        page = client.get(f"{API}/partners?community_id={a1}", headers=auth(user)).get_json()
        assert page["total"] == 6
        assert all(p["contact_phone"] is None for p in page["items"]), user
        assert {p["contact_phone_masked"] for p in page["items"]} == {"010****1234", "138****1234"}
    for user in (world["admin_a1"], world["street_admin"], world["district_admin"]):
        page = client.get(f"{API}/partners?community_id={a1}", headers=auth(user)).get_json()
        assert {p["contact_phone"] for p in page["items"]} == {"010-64001234", "13800001234"}, user
    page = client.get(f"{API}/partners?community_id={a1}&role=unit", headers=auth(world["member"])).get_json()
    assert [p["name"] for p in page["items"]] == ["示范区人民医院党支部"]
    assert client.get(f"{API}/partners?role=boss", headers=auth(world["member"])).status_code == 422


def test_reading_changing_and_removing_a_partner_is_for_community_staff(client, world):
    partner = world["partners"][2]
    path = f"{API}/partners/{partner.id}"
    for user in (world["member"], world["unit_admin"]):
        for method, body in (("GET", None), ("PATCH", {"name": "新名"}), ("DELETE", None)):
            response = client.open(path, method=method, json=body, headers=auth(user))
            assert response.status_code == 403 and error_code(response) == "community_staff_only", (method, user)
    for method, body in (("GET", None), ("PATCH", {"name": "新名"}), ("DELETE", None)):
        response = client.open(path, method=method, json=body, headers=auth(world["admin_b1"]))
        assert response.status_code == 404 and error_code(response) == "partner_not_found"
    shown = client.get(path, headers=auth(world["street_admin"])).get_json()
    assert shown["contact_phone"] == "010-64001234"


def test_a_change_keeps_the_roles_rules(client, world):
    partner = world["partners"][4]
    path = f"{API}/partners/{partner.id}"
    headers = auth(world["admin_a1"])
    response = client.patch(path, json={"contact_phone": "13700001111", "contact_name": "刘社工"}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["contact_phone"] == "13700001111" and response.get_json()["name"] == "和平社工事务所"
    assert client.patch(path, json={"role": "unit"}, headers=headers).status_code == 422
    response = client.patch(path, json={"role": "unit", "unit_id": world["unit"].id}, headers=headers)
    assert response.status_code == 200 and response.get_json()["unit_id"] == world["unit"].id
    # Back to another role: the unit goes with it.
    response = client.patch(path, json={"role": "social_org"}, headers=headers)
    assert response.status_code == 200 and response.get_json()["unit_id"] is None
    response = client.patch(path, json={"contact_phone": "123"}, headers=headers)
    assert response.status_code == 422 and list(response.get_json()["error"]["details"]) == ["contact_phone"]
    assert client.patch(path, json={"community_id": world["b1"].id}, headers=headers).status_code == 422


def test_a_removed_partner_leaves_the_list_and_cannot_be_named_again(client, world):
    partner = world["partners"][3]
    headers = auth(world["admin_a1"])
    assert client.delete(f"{API}/partners/{partner.id}", headers=headers).status_code == 204
    assert client.delete(f"{API}/partners/{partner.id}", headers=headers).status_code == 404
    page = client.get(f"{API}/partners?community_id={world['a1'].id}", headers=headers).get_json()
    assert partner.id not in {p["id"] for p in page["items"]} and page["total"] == 5
    # The row stays: what was recorded with it keeps its name.
    assert db.session.get(Partner, partner.id).removed_at is not None
    response = client.post(f"{API}/conventions", json={"community_id": world["a1"].id, "title": "公约", "text": "条文",
                                                       "partner_ids": [partner.id]}, headers=headers)
    assert response.status_code == 422 and "partner_ids" in response.get_json()["error"]["details"]


def test_order_of_answers_on_creation(client, world):
    before = db.session.scalar(select(func.count()).select_from(Partner))
    member = make_member()
    # A member: 403 before the body is read.
    assert create(client, member, community_id="x").status_code == 403
    # Staff naming a street: 422 on community_id; a community of another street: 404.
    response = create(client, world["admin_a1"], community_id=world["street_a"].id)
    assert response.status_code == 422 and list(response.get_json()["error"]["details"]) == ["community_id"]
    response = create(client, world["admin_a1"], community_id=world["b1"].id)
    assert response.status_code == 404 and error_code(response) == "region_not_found"
    # A unit that does not exist is a 422, before the scope's 404.
    response = create(client, world["admin_a1"], community_id=world["b1"].id, role="unit", unit_id=999_999)
    assert response.status_code == 422
    # A unit admin or a department admin is not community staff.
    assert create(client, world["unit_admin"], community_id=world["a1"].id).status_code == 403
    assert create(client, make_staff("department_admin", make_department(world["street_a"])),
                  community_id=world["a1"].id).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Partner)) == before
