"""The contract's list envelope: {"items", "page", "per_page", "total"}."""

from functools import cache

from marshmallow import Schema, fields, validate
from sqlalchemy import func, select

from api.fields import Integer
from extensions import db


class PageArgs(Schema):
    page = Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = Integer(load_default=20, validate=validate.Range(min=1, max=100))


@cache
def page_of(item_schema):
    """A list schema named after its item schema, so the OpenAPI document shows each list's items."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return type(name, (Schema,), {
        "items": fields.List(fields.Nested(item_schema), required=True),
        "page": Integer(required=True),
        "per_page": Integer(required=True),
        "total": Integer(required=True),
    })


def filters(args):
    """A list's query arguments without the page's: what the service filters by."""
    return {name: value for name, value in args.items() if name not in PageArgs._declared_fields}


def paginate(query, args, transform=None, total=None):
    """A page of ``query``; ``total`` when the caller already counted the rows (saves the count)."""
    page, per_page = args.get("page", 1), args.get("per_page", 20)
    if total is None:
        total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    if transform is not None:
        items = transform(items)
    return {"items": items, "page": page, "per_page": per_page, "total": total}

