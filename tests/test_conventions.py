"""Community conventions (社区公约): written by community staff as version 1, revised with a reason into new versions,
every earlier one kept, read by anyone signed in."""

import pytest

from tests.factories import auth, error_code
from tests.governance_factories import API, governance_world

TEXT = "一、党组织为主心骨，居委会为组织者，全体业主为当家人，物业公司为大管家。\n二、楼道不堆物，垃圾分类投放。"


@pytest.fixture
def world():
    return governance_world()


def write(client, world, **fields):
    body = {"community_id": world["a1"].id, "title": "和平里社区治理合伙人公约", "text": TEXT,
            "partner_ids": [p.id for p in world["partners"]], **fields}
    return client.post(f"{API}/conventions", json=body, headers=auth(world["admin_a1"]))


def test_a_convention_is_written_as_version_1_and_read_by_anyone(client, world):
    response = write(client, world)
    assert response.status_code == 201, response.get_json()
    convention = response.get_json()
    assert convention["version"] == 1 and convention["text"] == TEXT
    assert [p["role"] for p in convention["partners"]] == ["party_branch", "residents_committee", "property_company",
                                                           "owners_committee", "social_org"]
    shown = client.get(f"{API}/conventions/{convention['id']}", headers=auth(world["member"])).get_json()
    assert shown["title"] == "和平里社区治理合伙人公约"
    page = client.get(f"{API}/conventions?community_id={world['a1'].id}", headers=auth(world["member"])).get_json()
    assert [c["id"] for c in page["items"]] == [convention["id"]]
    assert client.get(f"{API}/conventions?community_id={world['b1'].id}",
                      headers=auth(world["member"])).get_json()["total"] == 0


def test_a_revision_is_the_next_version_and_the_earlier_ones_are_kept(client, world):
    convention = write(client, world).get_json()
    path = f"{API}/conventions/{convention['id']}"
    headers = auth(world["admin_a1"])
    revised_text = TEXT + "\n三、电动车不进楼，集中充电。"
    body = {"title": "和平里社区治理合伙人公约（2025 修订）", "text": revised_text,
            "partner_ids": [world["partners"][0].id, world["unit_partner"].id]}
    assert client.put(path, json=body, headers=headers).status_code == 422  # no reason
    response = client.put(path, json={**body, "reason": "增加电动车充电条款，医院党支部加入"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    latest = response.get_json()
    assert latest["version"] == 2 and latest["text"] == revised_text
    assert [p["name"] for p in latest["partners"]] == ["和平里社区党支部", "示范区人民医院党支部"]
    assert client.get(path, headers=auth(world["member"])).get_json()["version"] == 2
    versions = client.get(f"{path}/versions", headers=auth(world["member"])).get_json()
    assert [(v["version"], v["reason"]) for v in versions["items"]] == [
        (1, None), (2, "增加电动车充电条款，医院党支部加入")]
    assert versions["items"][0]["text"] == TEXT and len(versions["items"][0]["partners"]) == 5


def test_who_may_write_and_revise(client, world):
    for user in (world["member"], world["unit_admin"]):
        response = client.post(f"{API}/conventions", json={"community_id": world["a1"].id, "title": "x", "text": "y"},
                               headers=auth(user))
        assert response.status_code == 403 and error_code(response) == "community_staff_only"
    response = client.post(f"{API}/conventions", json={"community_id": world["a1"].id, "title": "x", "text": "y"},
                           headers=auth(world["admin_b1"]))
    assert response.status_code == 404
    response = write(client, world, partner_ids=[world["b1_partner"].id])
    assert response.status_code == 422 and list(response.get_json()["error"]["details"]) == ["partner_ids"]
    convention = write(client, world).get_json()
    body = {"title": "x", "text": "y", "reason": "z"}
    assert client.put(f"{API}/conventions/{convention['id']}", json=body,
                      headers=auth(world["member"])).status_code == 403
    response = client.put(f"{API}/conventions/{convention['id']}", json=body, headers=auth(world["admin_b1"]))
    assert response.status_code == 404 and error_code(response) == "convention_not_found"
    # A partner id naming nothing: 422 before the 404.
    response = client.put(f"{API}/conventions/{convention['id']}", json={**body, "partner_ids": [999_999]},
                          headers=auth(world["admin_b1"]))
    assert response.status_code == 422
    assert client.put(f"{API}/conventions/{convention['id']}", json=body,
                      headers=auth(world["street_admin"])).get_json()["version"] == 2
    assert client.get(f"{API}/conventions/999999", headers=auth(world["member"])).status_code == 404
