"""Malformed input never gives a 500 or an HTML page: every error comes in the contract's envelope."""

import logging

import pytest

from api.errors import handle_unexpected
from tests.factories import auth, make_member, make_staff, region_tree


def assert_envelope(response, status, code=None):
    assert response.status_code == status
    assert response.is_json
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "details"}
    if code:
        assert error["code"] == code
    return error


@pytest.mark.parametrize("body, content_type", [
    ("{not json", "application/json"),
    ("community_id=1", "application/x-www-form-urlencoded"),
    ("<xml/>", "text/xml"),
    ("\x00\x01\x02", "application/octet-stream"),
])
def test_non_json_bodies_are_400(client, body, content_type):
    response = client.post("/api/v1/reports", headers=auth(make_member()), data=body, content_type=content_type)
    assert_envelope(response, 400, "malformed_body")


@pytest.mark.parametrize("body", [[1, 2], "string", 42, None, True])
def test_json_that_is_not_an_object_is_400(client, body):
    import json

    response = client.post("/api/v1/reports", headers=auth(make_member()), data=json.dumps(body),
                           content_type="application/json")
    assert_envelope(response, 400, "malformed_body")


@pytest.mark.parametrize("body, field", [
    ({"community_id": "one"}, "community_id"),
    ({"community_id": [1]}, "community_id"),
    ({"community_id": {"id": 1}}, "community_id"),
    ({"community_id": 1.5}, "community_id"),
    ({}, "community_id"),
])
def test_wrong_types_name_the_field(client, body, field):
    response = client.post("/api/v1/reports", headers=auth(make_member()), json=body)
    error = assert_envelope(response, 422, "validation_failed")
    assert field in error["details"]
    assert isinstance(error["details"][field], list)


def test_huge_strings_are_refused_cleanly(client):
    headers = auth(make_member())
    response = client.patch("/api/v1/me", headers=headers, json={"name": "长" * 100_000})
    assert_envelope(response, 422)
    too_big = client.patch("/api/v1/me", headers=headers, data="x" * (3 * 1024 * 1024), content_type="application/json")
    assert too_big.status_code in (400, 413)
    assert_envelope(too_big, too_big.status_code)


@pytest.mark.parametrize("query", ["page=0", "page=-1", "per_page=101", "per_page=0", "page=abc",
                                   "per_page=1e9", "page=99999999999999999999"])
def test_bad_pagination_is_422(client, query):
    region_tree()
    response = client.get(f"/api/v1/regions?{query}", headers=auth(make_member()))
    assert_envelope(response, 422)


def test_unknown_path_and_wrong_method(client):
    assert_envelope(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_envelope(client.get("/nothing-here"), 404, "not_found")
    response = client.delete("/api/v1/regions", headers=auth(make_member()))
    assert_envelope(response, 405, "method_not_allowed")


def test_path_ids_must_be_integers(client):
    assert_envelope(client.get("/api/v1/regions/abc", headers=auth(make_member())), 404)
    assert_envelope(client.post("/api/v1/reports/-1/approve", headers=auth(make_staff("sysadmin"))), 404)


def test_sql_looking_text_is_stored_as_text(client):
    tree = region_tree()
    admin = auth(make_staff("sysadmin"))
    name = "x'); DROP TABLE regions; --"
    response = client.post("/api/v1/regions", headers=admin,
                           json={"name": name, "kind": "community", "parent_id": tree["street_a"].id})
    assert response.status_code == 201
    assert client.get(f"/api/v1/regions/{response.get_json()['id']}", headers=admin).get_json()["name"] == name


def test_an_unexpected_exception_is_a_500_envelope_with_a_logged_request_id(app, caplog):
    caplog.set_level(logging.ERROR)
    with app.test_request_context("/api/v1/anything", headers={"X-Request-ID": "abc123"}):
        from api.errors import assign_request_id

        assign_request_id()
        response = handle_unexpected(RuntimeError("boom"))
    assert response.status_code == 500
    body = response.get_json()["error"]
    assert body["code"] == "internal_error" and body["details"] == {"request_id": "abc123"}
    assert any("abc123" in record.getMessage() for record in caplog.records)


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz")
    assert len(response.headers["X-Request-ID"]) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "trace42"}).headers["X-Request-ID"] == "trace42"


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_a_database_that_cannot_be_reached():
    from app import create_app

    broken = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:9/none",
                         "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}}})
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "error"}


def test_an_unreachable_database_is_a_503_envelope():
    from app import create_app

    broken = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:9/none",
                         "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}}})
    response = broken.test_client().post("/api/v1/auth/login", json={"username": "a", "password": "b"})
    assert_envelope(response, 503, "database_unavailable")


def test_ids_beyond_32_bits_are_refused_cleanly(client):
    tree = region_tree()
    admin = auth(make_staff("sysadmin"))
    assert_envelope(client.get("/api/v1/regions/99999999999999999999", headers=admin), 404)
    response = client.post("/api/v1/staff", headers=admin, json={
        "username": "big", "password": "longpassword", "name": "x", "role": "community_admin",
        "scope_id": 2**63})
    assert "scope_id" in assert_envelope(response, 422)["details"]
    response = client.post("/api/v1/reports", headers=auth(make_member()), json={"community_id": tree["a1"].id,
                                                                                 "unit_id": -5})
    assert "unit_id" in assert_envelope(response, 422)["details"]


def test_nul_characters_are_a_field_error_on_every_database(client):
    tree = region_tree()
    admin = auth(make_staff("sysadmin"))
    response = client.post("/api/v1/regions", headers=admin,
                           json={"name": "桶站\x00二号", "kind": "community", "parent_id": tree["street_a"].id})
    assert assert_envelope(response, 422)["details"] == {"name": ["不能包含空字符"]}
    response = client.get("/api/v1/units?q=a%00b", headers=admin)
    assert assert_envelope(response, 422)["details"] == {"q": ["不能包含空字符"]}


def test_database_errors_never_carry_the_values_into_logs(app):
    from sqlalchemy.exc import IntegrityError

    from extensions import db
    from models import User

    db.session.add(User(username="dup", name="x", unavailable_weekdays=[], unavailable_dates=[]))
    db.session.commit()
    db.session.add(User(username="dup", name="13912345678", unavailable_weekdays=[], unavailable_dates=[]))
    with pytest.raises(IntegrityError) as error:
        db.session.commit()
    db.session.rollback()
    assert "13912345678" not in str(error.value)
