"""Answers are written by orjson (api/bodies.py): text as UTF-8, and for everything else what Flask's own encoder
wrote before."""

import json
from datetime import UTC, datetime
from decimal import Decimal

from flask import jsonify
from flask.json.provider import DefaultJSONProvider

from tests.factories import auth, make_member


def test_an_answer_carries_chinese_as_utf8(client):
    response = client.get("/api/v1/me", headers=auth(make_member("张志愿")))
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "张志愿".encode() in response.data and b"\\u" not in response.data
    assert response.get_json()["name"] == "张志愿"


def test_what_orjson_does_not_know_is_written_as_flasks_encoder_wrote_it(app):
    value = {"amount": Decimal("2.50"), "at": datetime(2026, 12, 1, 8, 30, tzinfo=UTC), "items": (1, None)}
    with app.test_request_context():
        written = jsonify(value)
        numbered = jsonify({3: "三"})
    assert json.loads(written.data) == json.loads(DefaultJSONProvider(app).dumps(value)) == {
        "amount": "2.50", "at": "Tue, 01 Dec 2026 08:30:00 GMT", "items": [1, None]}
    assert written.data.endswith(b"\n")
    assert numbered.get_json() == {"3": "三"}


def test_an_integer_beyond_64_bits_falls_back_to_flasks_encoder(app):
    with app.test_request_context():
        assert jsonify({"n": 2**70}).get_json() == {"n": 2**70}
        assert json.loads(app.json.dumps({"n": 2**70, "名": "值"})) == {"n": 2**70, "名": "值"}


def test_asking_for_indentation_still_gets_it(app):
    assert app.json.dumps({"a": 1}, indent=2) == '{\n  "a": 1\n}'
