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


def paginate(query, args, transform=None, total=None, few=False, columns=(), parameters=None):
    """A page of ``query``; ``total`` when the caller already counted the rows (saves the count). ``few``: the
    caller knows the query's rows are few (a member's own, a community's coming or open ones; never DISTINCT), so
    the total comes with the page as a window count, in one statement; only a page past the end counts apart.
    ``columns``: more of each item, computed in the page's own statement (never in its count), with the values of
    their ``parameters``; ``transform`` then gets rows, the item first."""
    page, per_page = args.get("page", 1), args.get("per_page", 20)
    window = query.add_columns(*columns).limit(per_page).offset((page - 1) * per_page)
    rows = None
    if total is None and few:
        # count(*) OVER () reads every row of the query, which a count does anyway; worth it only when they are few.
        rows = db.session.execute(window.add_columns(func.count().over()), parameters).all()
        total = rows[0][-1] if rows else (0 if page == 1 else None)
        rows = [row[:-1] for row in rows]
    if total is None:
        total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    if rows is None:
        rows = db.session.execute(window, parameters).all()
    items = rows if columns else [row[0] for row in rows]
    if transform is not None:
        items = transform(items)
    return {"items": items, "page": page, "per_page": per_page, "total": total}
