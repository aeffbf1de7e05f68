"""The Blueprint every API module uses."""

import flask_smorest


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, with each ``arguments`` schema made once, when the route is declared. Given a
    schema class, webargs would make a new instance (and copy all its fields) on every request."""

    def arguments(self, schema, *args, **kwargs):
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)
