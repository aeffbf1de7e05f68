"""Who is calling: the Actor that api.register_jwt_callbacks made of the access token. What the caller may do is
decided in services/authz.py."""

from flask_jwt_extended import current_user

from services.authz import Actor

# For @blp.doc on the few endpoints that need no sign-in.
PUBLIC = {"security": []}


def current_actor() -> Actor:
    return current_user
