"""Unexpected errors to Sentry when ``SENTRY_DSN`` is set; nothing is sent otherwise.

An event carries no personal data and no key: no user, cookies, headers that identify, request bodies (phones, ID
numbers), query strings or local variables; the URL is redacted like a log line (telemetry/logs.py).
"""

import sentry_sdk
from sentry_sdk.integrations.flask import FlaskIntegration

from telemetry.logs import redact


def init(app):
    """Start the Sentry client of this process (each gunicorn worker, the scheduler) when a DSN is configured."""
    dsn = app.config["SENTRY_DSN"]
    if not dsn:
        return False
    sentry_sdk.init(dsn=dsn, environment=app.config["APP_ENV"], integrations=[FlaskIntegration()],
                    send_default_pii=False, include_local_variables=False, max_request_body_size="never",
                    before_send=scrub, before_breadcrumb=scrub_breadcrumb)
    return True


def scrub(event, _hint):
    request = event.get("request")
    if request:
        request.pop("query_string", None)
        request.pop("data", None)
        request.pop("cookies", None)
        if request.get("url"):
            request["url"] = redact(request["url"])
        headers = request.get("headers") or {}
        request["headers"] = {name: value for name, value in headers.items()
                              if name.lower() not in ("authorization", "cookie", "x-forwarded-for", "x-real-ip")}
    logentry = event.get("logentry") or {}
    for key in ("message", "formatted"):
        if isinstance(logentry.get(key), str):
            logentry[key] = redact(logentry[key])
    if logentry.get("params"):
        logentry["params"] = [redact(p) if isinstance(p, str) else p for p in logentry["params"]]
    return event


def scrub_breadcrumb(crumb, _hint):
    if crumb.get("message"):
        crumb["message"] = redact(crumb["message"])
    data = crumb.get("data") or {}
    if isinstance(data.get("url"), str):
        data["url"] = redact(data["url"])
    return crumb


def report(error):
    """Send an error that was answered with a 500 (api/errors.py handles it, so Flask's signal never fires)."""
    sentry_sdk.capture_exception(error)
