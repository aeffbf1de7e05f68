"""Health for load balancers and operators: ``/livez`` (the process answers), ``/readyz`` (the database answers
and its schema is at the migrations' head), ``/healthz`` (the database answers) and ``/metrics`` (Prometheus)."""

from flask import Response
from marshmallow import Schema, fields
from sqlalchemy import text

from api.blueprint import Blueprint
from api.errors import envelope
from api.security import PUBLIC
from extensions import db
from telemetry import metrics
from telemetry.readiness import readiness

blp = Blueprint("health", __name__, description="Liveness, readiness, database health and metrics")


class HealthSchema(Schema):
    status = fields.String(required=True)
    database = fields.String(required=True)


class LivenessSchema(Schema):
    status = fields.String(required=True)


class ReadinessSchema(Schema):
    status = fields.String(required=True, metadata={"description": "ok, or error"})
    database = fields.String(required=True, metadata={"description": "ok, or error"})
    migrations = fields.String(required=True, metadata={"description": "ok; pending: the schema is not at the "
                                                                       "head; unknown: the database is down"})
    revision = fields.String(required=True, allow_none=True, metadata={"description": "The database's revision"})
    head = fields.String(required=True, metadata={"description": "The head revision this code ships"})


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


@blp.route("/livez")
@blp.doc(**PUBLIC)
@blp.response(200, LivenessSchema)
def livez():
    """The process answers; nothing else is asked (a database outage must not get every process restarted)."""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.doc(**PUBLIC)
@blp.response(200, ReadinessSchema)
@blp.alt_response(503, schema=ReadinessSchema, description="Database down, or migrations not at the head")
def readyz():
    """Ready for requests: the database answers and its schema is at the head of the migrations this code ships."""
    ready, facts = readiness()
    return ({"status": "ok", **facts}, 200) if ready else ({"status": "error", **facts}, 503)


@blp.route("/metrics")
@blp.doc(**PUBLIC)
@blp.response(200, {"type": "string"}, content_type="text/plain",
              description="Prometheus text exposition format")
@blp.alt_response(403, description="Neither METRICS_TOKEN as bearer nor the loopback (metrics_forbidden)")
def prometheus_metrics():
    """Prometheus metrics of every process of this machine: for a bearer of ``METRICS_TOKEN``, or from the
    loopback."""
    if not metrics.may_scrape():
        return envelope(403, "metrics_forbidden", "仅限本机或携带 METRICS_TOKEN 访问")
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
