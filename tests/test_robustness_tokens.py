"""Forgery and replay: tampered JWTs, another member's JWT after logout, spliced and replayed check-in tokens; and
hostile input (SQL-looking, oversized) in text fields, which is stored verbatim or refused, never executed.

Garbled, altered, expired and foreign check-in tokens are covered in test_checkins.py
(``test_forged_altered_expired_and_foreign_tokens_are_refused``); missing, invalid and expired JWTs and logout in
test_auth.py. These tests add what an attacker would try next.
"""

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from clock import utcnow
from extensions import db
from models import Activity, Attendance, ServiceRecord, User
from services.checkin_tokens import activity_token
from tests.activity_factories import PLACE, make_activity
from tests.factories import auth, error_code, make_member, make_staff, region_tree

SQL_LOOKING = [
    "Robert'); DROP TABLE users; --",
    "' OR '1'='1' --",
    "1; UPDATE users SET is_active = false",
    "\\x00'; SELECT pg_sleep(5); --",
]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def bearer(headers):
    return headers["Authorization"].split(" ", 1)[1]


def scan_body(token):
    return {"token": token, "lat": PLACE[0], "lng": PLACE[1]}


@pytest.fixture
def open_activity():
    tree = region_tree()
    return tree, make_activity(tree["a1"], starts_at=utcnow() - timedelta(minutes=5), requires_signup=False)


def test_jwt_with_another_members_identity_but_the_old_signature_is_refused(client):
    alice, bob = make_member(name="甲"), make_member(name="乙")
    header, payload, signature = bearer(auth(alice)).split(".")
    claims = json.loads(unb64(payload))
    claims["sub"] = str(bob.id)
    forged = ".".join((header, b64(json.dumps(claims).encode()), signature))

    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401
    assert error_code(response) == "token_invalid"


def test_unsigned_jwt_with_alg_none_is_refused(client):
    member = make_member()
    _header, payload, _signature = bearer(auth(member)).split(".")
    unsigned = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode()) + "." + payload + "."

    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {unsigned}"})

    assert response.status_code == 401


def test_a_logged_out_members_jwt_cannot_check_in_and_others_are_unaffected(client, open_activity):
    _tree, activity = open_activity
    alice, bob = make_member(), make_member()
    alice_headers, bob_headers = auth(alice), auth(bob)
    token, _ = activity_token(activity)
    assert client.post("/api/v1/auth/logout", headers=alice_headers).status_code == 204

    replayed = client.post("/api/v1/checkins", json=scan_body(token), headers=alice_headers)
    honest = client.post("/api/v1/checkins", json=scan_body(token), headers=bob_headers)

    assert (replayed.status_code, error_code(replayed)) == (401, "token_revoked")
    assert honest.status_code == 201
    members = set(db.session.scalars(select(Attendance.member_id).where(Attendance.activity_id == activity.id)))
    assert members == {bob.id}


def test_a_check_in_token_spliced_onto_another_activity_is_invalid(client, open_activity):
    tree, activity = open_activity
    other = make_activity(tree["a2"], starts_at=utcnow() - timedelta(minutes=5), requires_signup=False)
    member_headers = auth(make_member())
    raw = bytearray(unb64(activity_token(activity)[0]))
    # Bytes 2..5 carry the target id: point the genuine MAC at the other activity.
    raw[2:6] = other.id.to_bytes(4, "big")

    response = client.post("/api/v1/checkins", json=scan_body(b64(bytes(raw))), headers=member_headers)

    assert (response.status_code, error_code(response)) == (400, "invalid_token")
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0


def test_replaying_a_scan_at_once_records_nothing_more(client, open_activity):
    _tree, activity = open_activity
    headers = auth(make_member())
    token, _ = activity_token(activity)

    first = client.post("/api/v1/checkins", json=scan_body(token), headers=headers)
    replays = [client.post("/api/v1/checkins", json=scan_body(token), headers=headers) for _ in range(5)]

    assert first.status_code == 201
    assert {(r.status_code, r.get_json()["action"]) for r in replays} == {(200, "duplicate")}
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 1
    assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 0


def _hostile_writes(tree, value):
    """(path, body, field in the answer) for text fields across the API, with ``value`` in the field."""
    community = tree["a1"].id
    starts = (utcnow() + timedelta(days=2)).replace(microsecond=0).isoformat()
    ends = (utcnow() + timedelta(days=2, hours=2)).replace(microsecond=0).isoformat()
    return [
        ("/api/v1/activities", {"community_id": community, "title": value, "description": value, "category": "order",
                                "starts_at": starts, "ends_at": ends, "capacity": 5, "requires_signup": False,
                                "location": {"address": value, "lat": PLACE[0], "lng": PLACE[1], "radius_m": 100}},
         "title"),
        ("/api/v1/wishes", {"community_id": community, "title": value, "description": value, "beneficiary": value,
                            "deadline": (utcnow() + timedelta(days=9)).date().isoformat()}, "title"),
        ("/api/v1/needs", {"community_id": community, "title": value, "category": "elderly", "source": "visit"},
         "title"),
        ("/api/v1/resources", {"owner_type": "community", "owner_id": community, "title": value, "kind": "venue",
                               "detail": value}, "title"),
        ("/api/v1/regions", {"name": value, "kind": "community", "parent_id": tree["street_a"].id}, "name"),
        ("/api/v1/units", {"name": value, "kind": "school", "community_id": community}, "name"),
        ("/api/v1/posts", {"community_id": community, "name": value, "kind": "gate",
                           "location": {"address": value, "lat": PLACE[0], "lng": PLACE[1], "radius_m": 50}}, "name"),
    ]


@pytest.mark.parametrize("value", SQL_LOOKING)
def test_sql_looking_text_is_stored_verbatim_never_executed(client, value):
    tree = region_tree()
    headers = auth(make_staff("sysadmin"))
    users_before = db.session.scalar(select(func.count()).select_from(User))

    for path, body, field in _hostile_writes(tree, value):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 201, (path, response.get_json())
        assert response.get_json()[field] == value
    me = client.patch("/api/v1/me", json={"name": value}, headers=headers)
    found = client.get("/api/v1/units", query_string={"q": value}, headers=headers)

    assert me.status_code == 200 and me.get_json()["name"] == value
    assert found.status_code == 200 and [u["name"] for u in found.get_json()["items"]] == [value]
    assert db.session.scalar(select(func.count()).select_from(User)) == users_before
    assert db.session.scalar(select(func.count()).select_from(User).where(User.is_active.is_(False))) == 0
    assert db.session.scalar(select(Activity.title)) == value
    assert db.session.execute(text("SELECT 1 FROM users LIMIT 1")).scalar() == 1


def test_oversized_text_is_refused_with_the_field_named(client):
    tree = region_tree()
    headers = auth(make_staff("sysadmin"))
    huge = "长" * 20_000

    for path, body, field in _hostile_writes(tree, huge):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 422, (path, response.status_code)
        assert field in response.get_json()["error"]["details"], path
    me = client.patch("/api/v1/me", json={"name": huge}, headers=headers)
    query = client.get("/api/v1/units", query_string={"q": huge}, headers=headers)

    assert (me.status_code, query.status_code) == (422, 422)
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 0


def test_a_body_beyond_the_size_limit_is_413_in_the_envelope(client):
    headers = auth(make_staff("sysadmin"))
    body = json.dumps({"name": "x" * (3 * 1024 * 1024), "kind": "district"})

    response = client.post("/api/v1/regions", data=body, content_type="application/json", headers=headers)

    assert response.status_code == 413
    assert error_code(response) == "payload_too_large"


def test_a_nul_character_in_text_is_refused_or_stored_never_a_crash(client):
    tree = region_tree()
    headers = auth(make_staff("sysadmin"))

    for path, body, field in _hostile_writes(tree, "桶站\x00二号"):
        response = client.post(path, json=body, headers=headers)
        db.session.rollback()  # requests share the test's session: keep one failure from masking the next
        assert response.status_code in (201, 422), (path, response.status_code, response.get_json())
        if response.status_code == 201:
            assert response.get_json()[field] == "桶站\x00二号"
