"""The Blueprint every API module uses: flask-smorest's, with the habits that keep the OpenAPI document true.

- Every operation's ``operationId`` is its view's name (unique across the API: a generated client's functions are
  named after them).
- Answers are dumped with, and documented as, the resource's answer schema; request bodies are parsed with, and
  documented as, its input schema (api/schemas.py). Each ``arguments`` schema is made once, when the route is
  declared (given a class, webargs would make a new instance, and copy its fields, on every request).
- A body is checked (api/bodies.py) before it is parsed.
- Every error an operation can answer is listed, with the contract's envelope as its body (one component of the
  document): 401 unless public, 403 where a role gate stands (``api.security.allowed``), 400 and 413 with a body,
  404 with an object in the path, besides the ones a view documents itself.
"""

from functools import wraps

import flask_smorest
from marshmallow import Schema

from api.bodies import check_body, check_no_nul
from api.errors import ErrorEnvelopeSchema
from api.schemas import answer_schema, input_schema

BODY_LOCATIONS = ("json", "body")


def _answer(schema):
    if isinstance(schema, type) and issubclass(schema, Schema):
        return answer_schema(schema)
    if isinstance(schema, Schema):
        return answer_schema(type(schema))
    return schema


def _documented(view, status):
    return str(status) in {str(s) for s in view._apidoc.get("response", {}).get("responses", {})}


# Every operationId given so far: two operations of one name would give a generated client two functions of one name.
OPERATION_IDS = {}


class Blueprint(flask_smorest.Blueprint):
    def route(self, rule, *, parameters=None, tags=None, **options):
        register = super().route(rule, parameters=parameters, tags=tags, **options)

        def decorator(view):
            if OPERATION_IDS.setdefault(view.__name__, view.__module__) != view.__module__:
                raise ValueError(f"two API operations are named {view.__name__}: {view.__module__} and "
                                 f"{OPERATION_IDS[view.__name__]} (the view's name is its operationId)")
            view = self.doc(operationId=view.__name__)(view)
            public = view._apidoc.get("manual_doc", {}).get("security") == []
            gates = getattr(view, "role_gates", ())
            for status, needed, description in (
                    (401, not public, "Not signed in, or the token is invalid, expired or revoked"),
                    (403, bool(gates), "The caller's role may not do this at all (" + ", ".join(
                        sorted({gate.code for gate in gates})) + ")" if gates else ""),
                    (404, "<" in rule, "Not found, or outside the caller's scope")):
                if needed and not _documented(view, status):
                    view = self.alt_response(status, description=description)(view)
            return register(view)

        return decorator

    def arguments(self, schema, *args, **kwargs):
        schema = schema() if isinstance(schema, type) else schema
        has_body = kwargs.get("location", "json") in BODY_LOCATIONS
        if not has_body:
            schema.from_query = True  # a query string's values are text: api.fields.Integer reads its digits
        parse = super().arguments(input_schema(schema) if has_body else schema, *args, **kwargs)

        def decorator(view):
            parsing = parse(view)

            @wraps(parsing)
            def checked(*view_args, **view_kwargs):
                check_body()
                check_no_nul()
                return parsing(*view_args, **view_kwargs)

            if has_body:
                checked = self.alt_response(400, description="The body is not a JSON object within the limits "
                                                             "(malformed_body)")(checked)
                checked = self.alt_response(413, description="The body is too large")(checked)
            return checked

        return decorator

    def response(self, status_code, schema=None, *args, **kwargs):
        return super().response(status_code, _answer(schema), *args, **kwargs)

    def alt_response(self, status_code, *args, **kwargs):
        if int(status_code) >= 400 and not args and kwargs.get("response") is None and kwargs.get("schema") is None:
            kwargs["schema"] = ErrorEnvelopeSchema
        elif kwargs.get("schema") is not None:
            kwargs["schema"] = _answer(kwargs["schema"])
        return super().alt_response(status_code, *args, **kwargs)
