from marshmallow import Schema, fields
from sqlalchemy import text

from api.blueprint import Blueprint
from api.security import PUBLIC
from extensions import db

blp = Blueprint("health", __name__, description="Liveness and database health")


class HealthSchema(Schema):
    status = fields.String(required=True)
    database = fields.String(required=True)


@blp.route("/healthz")
@blp.doc(**PUBLIC)
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database cannot be reached")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}
    except Exception:
        db.session.rollback()
        return {"status": "error", "database": "error"}, 503
