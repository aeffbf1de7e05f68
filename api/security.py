"""Who is calling: the Actor that api.register_jwt_callbacks made of the access token. What the caller may do is
decided in services/authz.py; ``allowed`` asks its role gates before the body is read."""

from functools import wraps

from flask_jwt_extended import current_user

from api.bodies import check_body
from services.authz import Actor

# For @blp.doc on the few endpoints that need no sign-in.
PUBLIC = {"security": []}


def current_actor() -> Actor:
    return current_user


def allowed(*gates):
    """Ask these role gates (``services.authz.require_*``) of the caller before the view parses its arguments, so
    that a role that may not do this at all gets its 403 before any field's 422, as the contract orders them. The
    service asks them again: it is the authority, and the console calls it too."""

    def decorator(view):
        @wraps(view)
        def gated(*args, **kwargs):
            check_body()
            actor = current_actor()
            for gate in gates:
                gate(actor)
            return view(*args, **kwargs)

        # For the document's 403 (api/blueprint.py); the wrappers above copy it along.
        gated.role_gates = gates
        return gated

    return decorator
