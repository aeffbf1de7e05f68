"""Session sign-in for the console: the staff password check and login limit of POST /auth/login
(services/auth.password_login), a revocable sign-in session kept in the cookie, CSRF on every form."""

from flask import g, redirect, render_template, request, session, url_for
from flask_jwt_extended import decode_token

from console import bp, csrf
from errors import Forbidden
from services import auth
from services.authz import Actor, require_any_staff

PUBLIC_ENDPOINTS = {"console.login", "console.static"}


def current_actor():
    return g.get("console_actor")


@bp.before_request
def signed_in_staff():
    """Every console request: forms carry a valid CSRF token; pages other than sign-in need a live sign-in."""
    g.console_actor = None
    if request.endpoint == "console.static":
        return None  # the stylesheet, script and icon: no sign-in to look up
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    sid = session.get("sid")
    live = auth.live_sign_in(sid) if sid else None
    if live is not None and live.is_active and live.user_id == session.get("uid"):
        g.console_actor = Actor(live.user_id)
    elif sid:
        session.clear()
    if g.console_actor is None and request.endpoint not in PUBLIC_ENDPOINTS:
        return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None))
    return None


@bp.after_request
def page_headers(response):
    if request.endpoint == "console.static":
        return response
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return response


def _safe_next(target):
    """Only a path of the console itself: never an open redirect."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("console.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if g.console_actor is not None:
            return redirect(url_for("console.dashboard"))
        return render_template("console/login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")[:256]
    if not username or not password:
        return render_template("console/login.html", error="请输入用户名和密码", username=username,
                               next=request.form.get("next", "")), 422
    signed = auth.password_login(username, password)
    actor = Actor(signed["user"].id)
    sid = decode_token(signed["access_token"])["sid"]
    try:
        require_any_staff(actor)
    except Forbidden:
        # Raised, the unit of work rolls back: the sign-in session just made is never kept.
        raise Forbidden("staff_only", "工作台仅限工作人员使用，成员请使用小程序") from None
    session.clear()
    session.permanent = True
    session["uid"], session["sid"] = actor.id, sid
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout():
    auth.logout(session.get("sid"))
    session.clear()
    return redirect(url_for("console.login"))
