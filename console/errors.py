"""Errors on console pages: the envelope's message (errors.py) on a page, never a traceback."""

import logging

from flask import g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from api.errors import HTTP_CODES, handle_http_exception
from console import bp
from errors import DomainError
from telemetry import sentry

log = logging.getLogger("baodao.console")


def _page(status, message, details=None):
    if request.endpoint == "console.login" and status in (401, 403, 429):
        return render_template("console/login.html", error=message, username=request.form.get("username", ""),
                               next=request.form.get("next", "")), status
    return render_template("console/error.html", status=status, message=message, details=details or {},
                           actor=g.get("console_actor")), status


@bp.errorhandler(DomainError)
def domain_error(error):
    page, status = _page(error.status, error.message, error.details)
    return page, status, error.headers


@bp.errorhandler(CSRFError)
def csrf_error(_error):
    return _page(400, "页面已过期或来源不明（CSRF 校验未通过），请刷新页面后重试")


@bp.errorhandler(HTTPException)
def http_error(error):
    status = error.code or 500
    return _page(status, HTTP_CODES.get(status, ("error", error.name))[1])


@bp.errorhandler(Exception)
def unexpected(error):
    log.exception("console request %s crashed", g.get("request_id"))
    sentry.report(error)
    return _page(500, "服务器内部错误，请稍后再试")


def not_found_anywhere(error):
    """A path matching no route: under /console/ a page (the blueprint's handlers never see routing errors), the
    API's envelope elsewhere."""
    if request.path.startswith(bp.url_prefix + "/"):
        return _page(404, "页面不存在")
    return handle_http_exception(error)
