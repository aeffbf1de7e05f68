"""The Blueprint every API module uses."""

from functools import wraps

import flask_smorest

from api.bodies import check_body, check_no_nul
from api.errors import ErrorEnvelopeSchema


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, with two habits of the house:

    - each ``arguments`` schema is made once, when the route is declared (given a schema class, webargs would make
      a new instance, and copy all its fields, on every request), and the body is checked (api/bodies.py) before it
      is parsed;
    - an error response documented without a body has the contract's envelope as its body: the envelope schema is
      one component of the OpenAPI document, referenced by every error response.
    """

    def arguments(self, schema, *args, **kwargs):
        parse = super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)

        def decorator(view):
            parsing = parse(view)

            @wraps(parsing)
            def checked(*view_args, **view_kwargs):
                check_body()
                check_no_nul()
                return parsing(*view_args, **view_kwargs)

            return checked

        return decorator

    def alt_response(self, status_code, *args, **kwargs):
        if int(status_code) >= 400 and not args and kwargs.get("response") is None and kwargs.get("schema") is None:
            kwargs["schema"] = ErrorEnvelopeSchema
        return super().alt_response(status_code, *args, **kwargs)
