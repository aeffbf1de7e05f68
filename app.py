"""The application factory."""

from datetime import timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from api.bodies import StrictJSONProvider
from config import load_config
from extensions import db, jwt, limiter, migrate
from services.database import unit_of_work


class Baodao(Flask):
    """Flask, with each request's view run as one unit of work: committed when the view returns, rolled back when it
    raises (services/database.py). Services only flush. Request bodies are read strictly (api/bodies.py)."""

    json_provider_class = StrictJSONProvider

    def dispatch_request(self):
        with unit_of_work():
            return super().dispatch_request()


def create_app(config=None):
    app = Baodao(__name__, instance_relative_config=False)
    app.config.update(load_config())
    if config:
        app.config.update(config)
    register_logging(app)
    register_settings(app)
    register_proxy(app)
    register_calendar(app)
    register_extensions(app)
    register_telemetry(app)
    register_api(app)
    register_console(app)
    register_commands(app)
    return app


def register_settings(app):
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    # hide_parameters: a database error in the logs never carries the values (phones, names) it was given.
    engine_options = {"pool_pre_ping": True, "hide_parameters": True}
    if uri.startswith("sqlite"):
        engine_options["connect_args"] = {"timeout": 30, "check_same_thread": False}
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options)
    app.config.update(
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=app.config["JWT_ACCESS_MINUTES"]),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=app.config["JWT_REFRESH_DAYS"]),
        JWT_TOKEN_LOCATION=["headers"],
        # Tokens travel only in the Authorization header, which a browser never adds by itself: a CSRF claim would
        # guard nothing, and nbf would repeat iat. Without them a token is a quarter shorter to send and to decode.
        JWT_COOKIE_CSRF_PROTECT=False,
        JWT_ENCODE_NBF=False,
        RATELIMIT_STORAGE_URI=app.config["REDIS_URL"] or "memory://",
        RATELIMIT_KEY_PREFIX=app.config["RATELIMIT_KEY_PREFIX"],
        RATELIMIT_HEADERS_ENABLED=True,
        JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        API_TITLE="baodao",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # Swagger UI's files come from this server (api/docs_assets.py), never a CDN: the docs work on an intranet.
        OPENAPI_SWAGGER_UI_URL="/api/v1/docs/assets/",
    )
    app.json.ensure_ascii = False


def register_proxy(app):
    """Behind TRUSTED_PROXY_COUNT proxies, the client's address, scheme and host are those the proxies saw: rate
    limits count per real client. X-Forwarded-For entries beyond that count are a client's own words, and ignored."""
    count = app.config["TRUSTED_PROXY_COUNT"]
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count)


def register_calendar(app):
    from services import holidays

    holidays.configure(app)


def register_extensions(app):
    import models  # noqa: F401  (every table on the metadata)
    from services import database

    db.init_app(app)
    database.configure_engine_events(app)
    migrate.init_app(app, db, directory="migrations", render_as_batch=True, compare_type=True)
    jwt.init_app(app)
    limiter.init_app(app)


def register_api(app):
    from api import register_api as register

    register(app)


def register_console(app):
    from console import register_console as register

    register(app)


def register_commands(app):
    from commands import register_commands as register

    register(app)


def register_telemetry(app):
    from telemetry import metrics, sentry

    metrics.register(app)
    sentry.init(app)


def register_logging(app):
    from telemetry import logs

    # Tests keep pytest's own log capture.
    if not app.testing:
        logs.configure(app)
