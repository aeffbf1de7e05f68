"""The project's Blueprint: an arguments schema is made when the route is declared, not on every request."""

from marshmallow import Schema, fields

from api.blueprint import Blueprint


def test_an_arguments_schema_is_made_once_not_per_request(app):
    made = []

    class ProbeArgs(Schema):
        n = fields.Integer(required=True)

        def __init__(self, *args, **kwargs):
            made.append(self)
            super().__init__(*args, **kwargs)

    blp = Blueprint("probe", __name__)

    @blp.arguments(ProbeArgs, location="query")
    def probe(args):
        return args["n"]

    answers = []
    for n in (1, 2, 3):
        with app.test_request_context(f"/probe?n={n}"):
            answers.append(probe())

    assert answers == [1, 2, 3]
    assert len(made) == 1
