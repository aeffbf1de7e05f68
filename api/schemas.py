"""One schema per resource, seen two ways by the OpenAPI document, so that a client generated from it parses every
real answer and builds every request.

A resource's schema holds what a client sends (load fields) and what it gets back (dump fields). Read as it is, the
document would tell a generated client that an answer's fields are optional (they are not required on the way in)
and that a request carries read-only ids. So each schema is shown as:

- its *answer* (``answer_schema``), named after the resource (``Activity``): the fields an answer carries, every one
  of them ``required`` (a null is still carried), the nested resources as their answers;
- its *input* (``input_schema``), named ``<Resource>Input``: the fields a request may send.

The answer schema is also what dumps the answer, so the document and the answers cannot drift apart; it dumps by a
plan made once (api/dumping.py).
"""

import copy
from functools import cache

from marshmallow import Schema, fields

from api.dumping import PlannedDumpSchema


def _schema_class(schema):
    return schema if isinstance(schema, type) else type(schema)


def _name(schema_class, suffix=""):
    return schema_class.__name__.removesuffix("Schema") + suffix + "Schema"


def _declared(schema_class):
    """The schema's fields, less those its ``Meta.exclude`` leaves out."""
    excluded = set(getattr(getattr(schema_class, "Meta", None), "exclude", ()))
    return {name: field for name, field in schema_class._declared_fields.items() if name not in excluded}


def _derived_field(field, derive, required=None):
    """A copy of the field, its nested schemas (also inside lists) replaced by ``derive(schema class)``."""
    field = copy.copy(field)
    if required is not None:
        field.required = required
    if isinstance(field, fields.Nested) and isinstance(field.nested, type | Schema):
        field.nested = derive(_schema_class(field.nested))
    elif isinstance(field, fields.List):
        field.inner = _derived_field(field.inner, derive, required)
    return field


def _derived_class(schema_class, name, declared, base=Schema):
    derived = type(name, (base,), {**declared, "__doc__": schema_class.__doc__})
    derived.__module__ = schema_class.__module__
    return derived


@cache
def answer_schema(schema_class):
    """The schema of what answers carry, every field required."""
    if getattr(schema_class, "is_answer", False):
        return schema_class
    answer = _derived_class(schema_class, _name(schema_class), {
        name: _derived_field(field, answer_schema, required=True)
        for name, field in _declared(schema_class).items() if not field.load_only}, base=PlannedDumpSchema)
    answer.is_answer = True
    return answer


@cache
def _input_class(schema_class):
    return _derived_class(schema_class, _name(schema_class, "Input"), {
        name: _derived_field(field, _input_class)
        for name, field in _declared(schema_class).items() if not field.dump_only})


def input_schema(schema):
    """An instance of the schema of what requests send (with the instance's ``partial``, as given)."""
    partial = False if isinstance(schema, type) else schema.partial
    return _input_class(_schema_class(schema))(partial=partial)
