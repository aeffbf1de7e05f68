"""The REST API under /api/v1: one blueprint module per resource."""

from importlib import import_module

from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from api.errors import EnvelopeApi, register_error_handlers
from api.fields import register_fields
from models.types import MAX_ID

BLUEPRINT_MODULES = (
    "api.health",
    "api.auth",
    "api.me",
    "api.subscriptions",
    "api.staff",
    "api.regions",
    "api.units",
    "api.reports",
    "api.activities",
    "api.checkins",
    "api.records",
    "api.posts",
    "api.shifts",
    "api.certificates",
    "api.screen",
    "api.wishes",
    "api.teams",
    "api.needs",
    "api.resources",
    "api.projects",
    "api.points",
    "api.notifications",
    "api.stats",
    "api.calendar",
    "api.jobs",
    "api.uploads",
    "api.departments",
    "api.appeals",
    "api.moderation",
    "api.wechat_events",
    # Co-governance
    "api.partners",
    "api.meetings",
    "api.tasks",
    "api.conventions",
)
# Only outside production: neither routed nor in the OpenAPI document there.
DEVELOPMENT_BLUEPRINT_MODULES = (
    "api.dev_login",
)


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: an id beyond 32 bits names nothing, so it is a 404, not a database error."""

    def to_python(self, value):
        number = super().to_python(value)
        if not 1 <= number <= MAX_ID:
            raise NotFound()
        return number


def register_api(app):
    app.url_map.converters["int"] = IdConverter
    api = EnvelopeApi()
    api.init_app(app, spec_kwargs={
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "security": [{"bearerAuth": []}],
        "info": {"description": "baodao (报到): double reporting and community volunteer service. "
                                "Errors always come as {\"error\": {\"code\", \"message\", \"details\"}}."},
    })
    register_fields(api)
    modules = BLUEPRINT_MODULES + (() if app.config["APP_ENV"] == "production" else DEVELOPMENT_BLUEPRINT_MODULES)
    for name in modules:
        api.register_blueprint(import_module(name).blp)
    app.register_blueprint(import_module("api.docs_assets").blp)
    register_error_handlers(app)
    register_jwt_callbacks()


def register_jwt_callbacks():
    from flask import g

    from api.errors import envelope
    from extensions import jwt
    from services.auth import live_sign_in
    from services.authz import Actor

    # One query per request checks the sign-in and its user; the user lookup then reuses its answer.
    @jwt.token_in_blocklist_loader
    def is_revoked(_header, payload):
        g.sign_in = live_sign_in(payload["sid"])
        return g.sign_in is None

    @jwt.user_lookup_loader
    def load_actor(_header, payload):
        sign_in = g.pop("sign_in", None)
        if sign_in is None or str(sign_in.user_id) != payload["sub"] or not sign_in.is_active:
            return None
        return Actor(sign_in.user_id, has_roles=sign_in.has_roles, is_member=sign_in.is_member)

    @jwt.unauthorized_loader
    def missing(reason):
        return envelope(401, "token_missing", "缺少登录凭证")

    @jwt.invalid_token_loader
    def invalid(reason):
        return envelope(401, "token_invalid", "登录凭证无效")

    @jwt.expired_token_loader
    def expired(_header, _payload):
        return envelope(401, "token_expired", "登录已过期，请重新登录")

    @jwt.revoked_token_loader
    def revoked(_header, _payload):
        return envelope(401, "token_revoked", "登录凭证已注销")

    @jwt.user_lookup_error_loader
    def unknown_user(_header, _payload):
        return envelope(401, "token_invalid", "账号不存在或已停用")

    @jwt.needs_fresh_token_loader
    def needs_fresh(_header, _payload):
        return envelope(401, "token_not_fresh", "请重新登录")
