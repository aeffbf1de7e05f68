import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from stdnum.cn import ric

from demo.foundation import demo_id_number
from extensions import db
from models import ServiceRecord, User
from services import pii
from tests.factories import auth, error_code, make_member, make_report, make_unit, region_tree

VALID_ID = "11010519491231002X"
OTHER_VALID_ID = "110105199001011232"


def add_approved_hours(member, community, hours):
    start = datetime(2026, 3, 1, 1, tzinfo=UTC)
    db.session.add(ServiceRecord(member_id=member.id, community_id=community.id, started_at=start, ended_at=start,
                                 hours=Decimal(hours), status="approved", source="manual"))
    db.session.commit()


def test_me_shows_the_contract_fields(client):
    member = make_member("李四")
    body = client.get("/api/v1/me", headers=auth(member)).get_json()
    for field in ("id", "volunteer_number", "name", "phone_masked", "id_number_masked", "political_status",
                  "in_service", "unit_id", "community_id", "roles", "approved_hours", "star_level", "points"):
        assert field in body, field
    assert body["roles"] == []
    assert body["approved_hours"] == 0 and body["star_level"] == 0 and body["points"] == 0


def test_patch_me_masks_phone_and_encrypts_id_number(client):
    tree = region_tree()
    unit = make_unit(tree["a1"])
    member = make_member()
    response = client.patch("/api/v1/me", headers=auth(member), json={
        "name": "王五", "phone": "13812345678", "id_number": VALID_ID.lower(), "political_status": "party_member",
        "in_service": True, "unit_id": unit.id})
    assert response.status_code == 200
    body = response.get_json()
    assert body["phone_masked"] == "138****5678"
    assert body["id_number_masked"] == "110105********002X"
    assert body["political_status"] == "party_member" and body["in_service"] is True and body["unit_id"] == unit.id
    text = response.get_data(as_text=True)
    assert "13812345678" not in text and VALID_ID not in text
    stored = db.session.get(User, member.id)
    assert VALID_ID.encode() not in stored.id_number_encrypted
    assert VALID_ID not in stored.id_number_hash


def test_patch_me_validates_phone_and_id_number(client):
    member = make_member()
    response = client.patch("/api/v1/me", headers=auth(member),
                            json={"phone": "12345", "id_number": "110105194912310021"})
    assert response.status_code == 422
    details = response.get_json()["error"]["details"]
    assert set(details) == {"phone", "id_number"}
    assert db.session.get(User, member.id).phone is None


def _with_check_digit(body):
    return body + ric.calc_check_digit(body + "0")


@pytest.mark.parametrize(("id_number", "why"), [
    ("110105199913990023", "born 1999-13-99"),
    (_with_check_digit("11010520230229001"), "born on 29 February of a common year"),
    (_with_check_digit("99010519900101123"), "region 990105 does not exist"),
    (_with_check_digit("11010519900101123")[:-1] + "0", "wrong check digit"),
    (_with_check_digit(f"110105{date.today().year + 1}0101123"), "born next year"),
    ("1101051990010112", "too short"),
])
def test_patch_me_refuses_impossible_id_numbers(client, id_number, why):
    member = make_member()
    response = client.patch("/api/v1/me", headers=auth(member), json={"id_number": id_number})
    assert response.status_code == 422, why
    assert set(response.get_json()["error"]["details"]) == {"id_number"}, why
    assert db.session.get(User, member.id).id_number_encrypted is None


def test_every_demo_id_number_passes_the_full_check():
    numbers = [demo_id_number(n) for n in range(1, 31)]
    assert all(pii.is_valid_id_number(number) for number in numbers)
    assert len(set(numbers)) == 30


def test_patch_me_rejects_unknown_political_status_and_unit(client):
    member = make_member()
    response = client.patch("/api/v1/me", headers=auth(member), json={"political_status": "king", "unit_id": 999})
    assert response.status_code == 422
    assert "political_status" in response.get_json()["error"]["details"]
    response = client.patch("/api/v1/me", headers=auth(member), json={"unit_id": 999})
    assert response.get_json()["error"]["details"] == {"unit_id": ["单位不存在"]}


def test_one_id_number_belongs_to_one_member(client):
    first, second = make_member(), make_member()
    assert client.patch("/api/v1/me", headers=auth(first), json={"id_number": VALID_ID}).status_code == 200
    response = client.patch("/api/v1/me", headers=auth(second), json={"id_number": VALID_ID})
    assert response.status_code == 409
    assert error_code(response) == "id_number_taken"
    assert client.patch("/api/v1/me", headers=auth(first), json={"id_number": VALID_ID}).status_code == 200
    assert client.patch("/api/v1/me", headers=auth(second), json={"id_number": OTHER_VALID_ID}).status_code == 200


def test_star_level_and_community_follow_approved_records_and_report(client):
    tree = region_tree()
    member = make_member()
    make_report(member, tree["b2"], status="approved")
    add_approved_hours(member, tree["b2"], "299.99")
    db.session.add(ServiceRecord(member_id=member.id, community_id=tree["b2"].id, started_at=datetime.now(UTC),
                                 ended_at=datetime.now(UTC), hours=Decimal("50"), status="pending"))
    db.session.commit()
    body = client.get("/api/v1/me", headers=auth(member)).get_json()
    assert body["approved_hours"] == 299.99
    assert body["star_level"] == 1
    assert body["community_id"] == tree["b2"].id
    add_approved_hours(member, tree["b2"], "0.01")
    assert client.get("/api/v1/me", headers=auth(member)).get_json()["star_level"] == 2


def test_unavailability_is_stored(client):
    member = make_member()
    response = client.put("/api/v1/me/unavailability", headers=auth(member),
                          json={"weekdays": [6, 7, 6], "dates": ["2026-12-24"]})
    assert response.status_code == 200
    assert response.get_json() == {"weekdays": [6, 7], "dates": ["2026-12-24"], "standin_requested": []}
    bad = client.put("/api/v1/me/unavailability", headers=auth(member), json={"weekdays": [0, 8]})
    assert bad.status_code == 422
    assert db.session.get(User, member.id).unavailable_weekdays == [6, 7]


def test_personal_data_never_reaches_the_logs(client, caplog, fake_wechat):
    caplog.set_level("DEBUG")
    fake_wechat.logins["c"] = "openid-secret-person"
    tokens = client.post("/api/v1/auth/wechat", json={"code": "c"}).get_json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    client.patch("/api/v1/me", headers=headers, json={"phone": "13987654321", "id_number": VALID_ID})
    client.patch("/api/v1/me", headers=headers, json={"phone": "1398765432X"})
    logged = "\n".join(r.getMessage() for r in caplog.records) + json.dumps([str(r.args) for r in caplog.records])
    for secret in ("13987654321", VALID_ID, "openid-secret-person"):
        assert secret not in logged
