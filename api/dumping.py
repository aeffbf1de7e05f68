"""Answers dumped by a plan made once per schema: marshmallow's own output, for less of its cost.

marshmallow dumps each field through five calls (the field's ``serialize`` and ``get_value``, the schema's
``get_attribute``, ``utils.get_value``, the field's ``_serialize``); on a page of 20 activities, 34 fields each with the
nested ones, that was a large share of the request's CPU (BENCHMARKS.md, "Mixed workload", round three). marshmallow
has no compiled dumper of its own, and the projects that made one stopped at marshmallow 2, so an answer schema
(api/schemas.py) replaces only ``_serialize``, with a plan that keeps for each field its key, its attribute and the
shortest exact way to its value:

- a field whose serialization marshmallow leaves as it is (Boolean, Raw: ``Field._serialize``) passes the value on;
- String, Integer and Float pass on None or a value already of their type (a ``str``, an ``int``, a ``float``; never
  a subclass such as an enum or a bool) and call the field's own ``_serialize`` for any other value;
- a Nested field whose schema dumps by a plan and has no dump hooks, or a List of such, goes straight to that
  schema's plan (what ``Nested._serialize`` and ``Schema.dump`` come to without hooks);
- any other field (dates, other nested schemas and lists, this app's fields) is its own ``_serialize``, called
  directly;
- a field that reads no attribute (Function, Method, Constant) or a dotted one, and a value its object does not
  hold, go through marshmallow's own path, defaults included; so does every field of an object that is neither a
  dict nor read by attribute (marshmallow reads ``obj[key]`` first of anything with ``__getitem__``).

The schema's hooks (``pre_dump``, ``post_dump``) run as before: ``dump`` is marshmallow's. With ``CHECK_DUMPS`` set
(the test suite sets it) every dump is also made by marshmallow and a difference raises, so every answer the suite
gets checks the plans.
"""

from flask import current_app, has_app_context
from marshmallow import Schema, fields
from marshmallow.decorators import POST_DUMP, PRE_DUMP
from marshmallow.utils import missing


def _passing_through(field, native):
    serialize = field._serialize

    def convert(value, attr, obj):
        if value is None or type(value) is native:
            return value
        return serialize(value, attr, obj)

    return convert


def _nested_plan(field):
    """A ``(value, attr, obj)`` function for a Nested field whose schema dumps by its plan with no dump hooks, else
    None."""
    if type(field)._serialize is not fields.Nested._serialize:
        return None
    schema = field.schema
    if not (isinstance(schema, PlannedDumpSchema) and type(schema).dump is Schema.dump
            and type(schema)._serialize is PlannedDumpSchema._serialize
            and not schema._hooks[PRE_DUMP] and not schema._hooks[POST_DUMP]):
        return None
    many = schema.many or field.many

    def planned(value, attr, obj):
        return None if value is None else schema._planned(value, many)

    return planned


def _converter(field):
    """How the plan turns the field's value into its answer: None to pass it on, else a ``(value, attr, obj)``
    function."""
    serialize = type(field)._serialize
    if serialize is fields.Field._serialize:
        return None
    nested = _nested_plan(field)
    if nested is not None:
        return nested
    inner = _nested_plan(field.inner) if serialize is fields.List._serialize else None
    if inner is not None:
        def each_planned(value, attr, obj):
            return None if value is None else [inner(each, attr, obj) for each in value]

        return each_planned
    if serialize is fields.String._serialize:
        return _passing_through(field, str)
    if serialize is fields.Number._serialize and not field.as_string and field.num_type in (int, float):
        return _passing_through(field, field.num_type)
    return field._serialize


class PlannedDumpSchema(Schema):
    """A schema whose ``_serialize`` follows its plan (see the module)."""

    @property
    def _plan(self):
        plan = self.__dict__.get("_dump_plan")
        if plan is None:
            own_accessor = type(self).get_attribute is Schema.get_attribute
            plan = self.__dict__["_dump_plan"] = [
                (attr_name, field.data_key if field.data_key is not None else attr_name,
                 field.attribute if field.attribute is not None else attr_name, field, _converter(field),
                 not own_accessor or not field._CHECK_ATTRIBUTE or "." in (field.attribute or attr_name))
                for attr_name, field in self.dump_fields.items()]
        return plan

    def _planned(self, obj, many):
        if many and obj is not None:
            return [self._planned(item, False) for item in obj]
        answer = self.dict_class()
        is_dict = type(obj) is dict
        by_attribute = not is_dict and not hasattr(obj, "__getitem__")  # as marshmallow.utils.get_value reads it
        for attr_name, key, attribute, field, convert, marshmallows_path in self._plan:
            if not marshmallows_path:
                if is_dict:
                    value = obj.get(attribute, missing)
                else:
                    value = getattr(obj, attribute, missing) if by_attribute else missing
                if value is not missing:
                    answer[key] = value if convert is None else convert(value, attr_name, obj)
                    continue
            value = field.serialize(attr_name, obj, accessor=self.get_attribute)
            if value is not missing:
                answer[key] = value
        return answer

    def _serialize(self, obj, *, many=False):
        answer = self._planned(obj, many)
        if has_app_context() and current_app.config.get("CHECK_DUMPS"):
            expected = super()._serialize(obj, many=many)
            if answer != expected:
                raise AssertionError(f"{type(self).__name__}: the planned dump {answer!r} differs from "
                                     f"marshmallow's {expected!r}")
        return answer
