"""The console for community workers (社区工作者工作台): server-rendered pages under /console/ that sign staff in
with a session cookie and call the same services and authorisation as the API."""

from datetime import timedelta

from flask import Blueprint
from flask_wtf.csrf import CSRFProtect

bp = Blueprint("console", __name__, url_prefix="/console", static_folder="static",
               static_url_path="/static")
csrf = CSRFProtect()


def register_console(app):
    # The API's bearer tokens need no CSRF token: only the console's forms are checked (console/auth.py).
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.update(
        SESSION_COOKIE_NAME="baodao_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/console",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=app.config["CONSOLE_SESSION_HOURS"]),
    )
    csrf.init_app(app)
    from console import auth, errors, views  # noqa: F401  (routes and handlers on the blueprint)

    app.register_blueprint(bp)
    app.register_error_handler(404, errors.not_found_anywhere)
