"""The planned dump (api/dumping.py) gives marshmallow's output on every kind of field and object. Besides these,
the suite runs with ``CHECK_DUMPS``, so every answer it gets was also compared with marshmallow's."""

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from types import SimpleNamespace

import pytest
from marshmallow import Schema, fields, post_dump

from api.dumping import PlannedDumpSchema
from api.fields import Hours, Integer, LocalDateTime
from api.schemas import answer_schema


class Colour(StrEnum):
    RED = "red"


class InnerSchema(Schema):
    name = fields.String()
    size = Integer()


class EverySchema(Schema):
    text = fields.String()
    number = Integer()
    ratio = fields.Float()
    flag = fields.Boolean()
    raw = fields.Raw()
    as_text = Integer(as_string=True)
    amount = fields.Decimal()
    hours = Hours()
    day = fields.Date()
    at = LocalDateTime()
    inner = fields.Nested(InnerSchema)
    inners = fields.List(fields.Nested(InnerSchema))
    tags = fields.List(fields.String())
    renamed = fields.String(data_key="shownName")
    moved = fields.String(attribute="elsewhere")
    dotted = fields.String(attribute="inner.name")
    computed = fields.Function(lambda obj: "computed")
    defaulted = fields.String(dump_default="default")


VALUES = {
    "text": "文字", "number": 7, "ratio": 1.5, "flag": True, "raw": {"a": [1]}, "as_text": 12,
    "amount": Decimal("2.50"), "hours": Decimal("1.25"), "day": date(2026, 12, 1),
    "at": datetime(2026, 12, 1, 16, 30, tzinfo=UTC), "inner": {"name": "内", "size": 2},
    "inners": [{"name": "一", "size": 1}, {"name": "二"}], "tags": ["a", Colour.RED], "renamed": "shown",
    "elsewhere": "moved", "defaulted": "given",
}
# Values not of the field's own type, which must take the field's own conversion.
CONVERTED = {"text": Colour.RED, "number": True, "ratio": 3, "flag": 1, "renamed": 5, "inner": None, "inners": None}


class Keyed:
    """Read by key, as marshmallow reads anything with ``__getitem__`` (and by attribute when the key is missing)."""

    def __init__(self, values):
        self.values = values

    def __getitem__(self, key):
        return self.values[key]


def objects(values):
    return [values, SimpleNamespace(**values), Keyed(values)]


@pytest.fixture
def answer(app):
    with app.app_context():
        app.config["CHECK_DUMPS"] = False  # compared here, explicitly
        try:
            yield answer_schema(EverySchema)()
        finally:
            app.config["CHECK_DUMPS"] = True


@pytest.mark.parametrize("values", [VALUES, {**VALUES, **CONVERTED}, {}, {"text": None, "number": None,
                                                                       "at": None, "tags": None}])
def test_the_planned_dump_is_marshmallows(answer, values):
    for obj in objects(values):
        planned = answer.dump(obj)
        assert planned == Schema._serialize(answer, obj) and planned["computed"] == "computed"
    assert answer.dump([values, values], many=True) == [Schema._serialize(answer, values)] * 2


def test_a_planned_dump_keeps_the_types_marshmallow_gives(answer):
    planned = answer.dump({**VALUES, **CONVERTED})
    assert type(planned["text"]) is str and planned["number"] == 1 and type(planned["number"]) is int
    assert type(planned["ratio"]) is float and planned["as_text"] == "12" and planned["shownName"] == "5"
    assert planned["at"] == "2026-12-02T00:30:00+08:00" and planned["moved"] == "moved"
    assert "elsewhere" not in planned and planned["defaulted"] == "given"
    assert answer.dump({})["defaulted"] == "default"


class HookedSchema(PlannedDumpSchema):
    name = fields.String()

    @post_dump
    def shout(self, data, **kwargs):
        return {**data, "name": data["name"].upper()}


def test_hooks_still_run(app):
    with app.app_context():
        assert HookedSchema().dump({"name": "a"}) == {"name": "A"}


def test_with_check_dumps_a_plan_that_differs_from_marshmallow_raises(app, monkeypatch):
    schema = answer_schema(InnerSchema)()
    monkeypatch.setattr(type(schema), "_planned", lambda self, obj, many: {"name": "wrong"})
    with app.app_context():
        assert app.config["CHECK_DUMPS"]
        with pytest.raises(AssertionError, match="differs from marshmallow"):
            schema.dump({"name": "right", "size": 1})


def test_nested_planned_schemas_go_straight_to_their_plan(answer, monkeypatch):
    dumps = []
    original = Schema.dump
    monkeypatch.setattr(Schema, "dump", lambda self, obj, **kwargs: dumps.append(type(self)) or original(
        self, obj, **kwargs))
    assert answer.dump(VALUES)["inners"] == [{"name": "一", "size": 1}, {"name": "二"}]
    assert dumps == [type(answer)]  # the nested object and the list's two were dumped by their plans


def test_a_nested_schema_with_hooks_still_runs_them(app):
    class OuterSchema(PlannedDumpSchema):
        one = fields.Nested(HookedSchema)
        several = fields.List(fields.Nested(HookedSchema))

    with app.app_context():
        assert OuterSchema().dump({"one": {"name": "a"}, "several": [{"name": "b"}, {"name": "c"}]}) == {
            "one": {"name": "A"}, "several": [{"name": "B"}, {"name": "C"}]}
