"""Reading console forms with the API's own schemas, so a form and a request body are checked alike."""

import re

from flask import request
from marshmallow import Schema, ValidationError, fields

from api.fields import Hours, LocalDate
from api.pagination import paginate
from errors import ValidationFailed

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _coerce(field, value):
    """An HTML form sends text: numbers become numbers where the schema wants them (a JSON body has them)."""
    if isinstance(field, fields.List):
        return [_coerce(field.inner, v) for v in value]
    if isinstance(field, (Hours, fields.Number)) and isinstance(value, str) and NUMBER.match(value.strip()):
        text = value.strip()
        return int(text) if isinstance(field, fields.Integer) and "." not in text else float(text)
    if isinstance(field, fields.Boolean) and isinstance(value, str):
        return value in ("1", "true", "on")
    return value


def parse(schema_class, source=None, lists=(), partial=False, **extra):
    """The form's (or query's) fields the schema knows, blanks left out, loaded by the schema; a 422 naming the
    fields otherwise. ``lists``: fields sent as repeated inputs (checkboxes); ``partial``: a change of some fields."""
    source = request.form if source is None else source
    schema = schema_class(partial=partial)
    data = _collect(schema, source, lists)
    data.update(extra)
    try:
        return schema.load(data)
    except ValidationError as error:
        raise ValidationFailed(error.messages) from None


def _collect(schema, source, lists=(), prefix=""):
    """The fields of ``schema`` in a flat form, a nested schema's as ``outer.inner`` (location.lat)."""
    data = {}
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
        key = field.data_key or name
        if isinstance(field, fields.Nested) and not field.many:
            inner = _collect(field.schema, source, prefix=f"{prefix}{key}.")
            if inner:
                data[key] = inner
        elif key in lists:
            values = [v for v in source.getlist(prefix + key) if v != ""]
            if values:
                data[key] = _coerce(field, values)
        elif source.get(prefix + key, "") != "":
            data[key] = _coerce(field, source.get(prefix + key))
    return data


def page(query, transform=None, per_page=20):
    """One page of a list, its number from ``?page=``."""
    number = request.args.get("page", "1")
    number = int(number) if number.isdigit() and 0 < int(number) <= 100000 else 1
    result = paginate(query, {"page": number, "per_page": per_page}, transform)
    result["pages"] = max(1, -(-result["total"] // per_page))
    return result


class WeekArgs(Schema):
    week = LocalDate(metadata={"description": "Any day of the week shown"})


def list_filters(schema_class):
    """A list page's filters from its query, read by the API list's own schema, without the page's number."""
    return {k: v for k, v in parse(schema_class, request.args).items() if k not in ("page", "per_page")}
