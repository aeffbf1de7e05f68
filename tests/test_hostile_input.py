"""Hostile input, swept over every operation of the OpenAPI document (issue 16): whatever a client sends, the answer is
a 400 or a 422 in the envelope, naming the field, and nothing changes. Never a 500.

- bodies nested thousands deep, integers of thousands of digits, arrays where an object belongs: 400;
- text with control characters or bidirectional overrides, or blank once trimmed: 422 on that field;
- integers that are floats, bools, Unicode digits or beyond 32 bits; dates and times outside 2000-2100: 422.
"""

import json

import pytest

from extensions import db
from models import Activity, Need, Post, Region, Report, RoleAssignment, ServiceRecord, User, Wish
from tests.factories import auth, make_department, make_region, make_staff

# Fields whose text is not checked as people's text: secrets and codes are taken as they are, or refused by what
# checks them (a wrong password is 401, a garbled check-in token 400).
NOT_TEXT = {"password", "code", "token", "username"}
HOSTILE_TEXT = {"bidi": "王\u202e伟", "control": "王\x07伟", "blank": "   "}
HOSTILE_INTEGERS = [1.9, True, "１２", "12\n", 2147483648, -1]
HOSTILE_DATES = ["0001-01-01", "9999-12-31", "1999-12-31"]
HOSTILE_DATETIMES = ["0001-01-01T00:00:00", "9999-12-31T23:59:59", "0001-01-01T00:00:00+14:00"]


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").get_json()


def _resolve(document, schema):
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _operations(document, with_body):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if with_body and body is None:
                continue
            yield method.upper(), path, operation, _resolve(document, body["schema"]) if body else None


def _url(path):
    """The path with 1 for each of its ids (the field checks come before any object is looked up)."""
    return "/".join("1" if part.startswith("{") else part for part in path.split("/"))


def _writable(document, schema):
    """(name, property schema) of what a request may send."""
    for name, prop in (schema.get("properties") or {}).items():
        if not prop.get("readOnly"):
            yield name, _resolve(document, prop)


def _everyone(client):
    """A sysadmin who also signed in through WeChat and answers for a department: no role gate stops it before the
    fields are looked at."""
    user = make_staff("sysadmin")
    user.openid = "openid-sysadmin-member"
    department = make_department(make_region("测试区", "district"))
    user.roles.append(RoleAssignment(role="department_admin", scope_type="department", scope_id=department.id))
    db.session.commit()
    return auth(user)


def _rows():
    return [db.session.query(model).count() for model in (Activity, Need, Post, Region, Report, ServiceRecord, User,
                                                          Wish)]


def _send(client, method, path, headers, **kwargs):
    response = client.open(_url(path), method=method, headers=headers, **kwargs)
    assert response.status_code != 500, (method, path, response.get_json())
    assert response.is_json, (method, path)
    return response


def test_bodies_no_parser_should_take_are_400_everywhere(client, document):
    headers = _everyone(client)
    deep = '{"x": ' + "[" * 50_000 + "]" * 50_000 + "}"
    long_integer = '{"x": ' + "9" * 5000 + "}"
    not_an_object = "[1, 2]"
    nan = '{"x": NaN}'
    before = _rows()
    for method, path, _operation, _schema in _operations(document, with_body=True):
        if path.endswith("/wechat") or path.endswith("/login"):
            continue
        for body in (deep, long_integer, not_an_object, nan):
            response = _send(client, method, path, headers, data=body, content_type="application/json")
            assert response.status_code == 400, (method, path, body[:20], response.get_json())
            assert response.get_json()["error"]["code"] == "malformed_body"
    assert _rows() == before


def test_a_malformed_body_without_a_token_is_401_first(client, document):
    for method, path, operation, _schema in _operations(document, with_body=True):
        if operation.get("security") == []:
            continue
        response = _send(client, method, path, {}, data="[" * 10_000, content_type="application/json")
        assert response.status_code == 401, (method, path)


def _field_error(response, name):
    details = response.get_json()["error"]["details"]
    return name in details


@pytest.mark.parametrize("kind", sorted(HOSTILE_TEXT))
def test_text_fields_refuse_control_characters_bidi_overrides_and_blanks(client, document, kind):
    headers = _everyone(client)
    before = _rows()
    checked = 0
    for method, path, _operation, schema in _operations(document, with_body=True):
        if "/auth/" in path:
            continue
        for name, prop in _writable(document, schema):
            if prop.get("type") == "object" and prop.get("properties"):
                nested = [(f"{name}.{n}", p) for n, p in _writable(document, prop)]
            else:
                nested = [(name, prop)]
            for field, field_schema in nested:
                if field_schema.get("type") != "string" or "enum" in field_schema or "format" in field_schema \
                        or field.split(".")[-1] in NOT_TEXT:
                    continue
                outer, _, inner = field.partition(".")
                body = {outer: {inner: HOSTILE_TEXT[kind]}} if inner else {outer: HOSTILE_TEXT[kind]}
                response = _send(client, method, path, headers, json=body)
                assert response.status_code == 422, (method, path, field, response.get_json())
                assert _field_error(response, outer), (method, path, field, response.get_json())
                checked += 1
    assert checked > 30
    assert _rows() == before


def test_integers_are_integers_within_32_bits_everywhere(client, document):
    headers = _everyone(client)
    before = _rows()
    checked = 0
    for method, path, operation, schema in _operations(document, with_body=False):
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query" or _resolve(document, parameter["schema"]).get("type") != "integer":
                continue
            for value in ("１２", "12\n", "1.9", "2147483648", "true"):
                response = _send(client, method, path, headers, query_string={parameter["name"]: value})
                assert response.status_code == 422, (method, path, parameter["name"], value, response.get_json())
                assert _field_error(response, parameter["name"])
                checked += 1
        if schema is None:
            continue
        for name, prop in _writable(document, schema):
            items = _resolve(document, prop.get("items", {})) if prop.get("type") == "array" else None
            if prop.get("type") != "integer" and (items or {}).get("type") != "integer":
                continue
            for value in HOSTILE_INTEGERS:
                if value == -1 and (prop.get("minimum") is None and (items or {}).get("minimum") is None):
                    continue
                body = {name: [value] if items else value}
                response = _send(client, method, path, headers, json=body)
                assert response.status_code == 422, (method, path, name, value, response.get_json())
                assert _field_error(response, name), (method, path, name, response.get_json())
                checked += 1
    assert checked > 100
    assert _rows() == before


def test_dates_and_times_lie_within_2000_to_2100_everywhere(client, document):
    headers = _everyone(client)
    before = _rows()
    checked = 0
    for method, path, operation, schema in _operations(document, with_body=False):
        for parameter in operation.get("parameters", []):
            fmt = _resolve(document, parameter["schema"]).get("format")
            if parameter["in"] != "query" or fmt not in ("date", "date-time"):
                continue
            for value in HOSTILE_DATES if fmt == "date" else HOSTILE_DATETIMES:
                response = _send(client, method, path, headers, query_string={parameter["name"]: value})
                assert response.status_code == 422, (method, path, parameter["name"], value)
                checked += 1
        for name, prop in _writable(document, schema or {}):
            items = _resolve(document, prop.get("items", {})) if prop.get("type") == "array" else {}
            fmt = prop.get("format") or items.get("format")
            if fmt not in ("date", "date-time"):
                continue
            for value in HOSTILE_DATES if fmt == "date" else HOSTILE_DATETIMES:
                response = _send(client, method, path, headers, json={name: [value] if items else value})
                assert response.status_code == 422, (method, path, name, value, response.get_json())
                assert _field_error(response, name), (method, path, name, response.get_json())
                checked += 1
    assert checked > 20
    assert _rows() == before


def test_a_year_one_activity_cannot_be_stored_to_top_every_list(client):
    headers = _everyone(client)
    response = client.post("/api/v1/activities", headers=headers, json={
        "community_id": 1, "title": "远古活动", "category": "order", "starts_at": "0001-01-01T08:00:00",
        "ends_at": "0001-01-01T09:00:00", "capacity": 1, "location": {"lat": 39.9, "lng": 116.4}})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["details"]) == {"starts_at", "ends_at"}
    assert json.loads(client.get("/api/v1/activities?from=0001-01-01", headers=headers).data)["error"]["details"]
