"""One error envelope for everything: domain errors, validation, HTTP errors, JWT errors and crashes."""

import logging
import uuid

from flask import g, jsonify, request
from flask_smorest import Api
from marshmallow import Schema, fields
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from errors import DomainError

log = logging.getLogger("baodao.errors")

HTTP_CODES = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "没有权限"),
    404: ("not_found", "未找到"),
    405: ("method_not_allowed", "不支持该请求方法"),
    409: ("conflict", "状态冲突"),
    413: ("payload_too_large", "请求体过大"),
    415: ("unsupported_media_type", "请使用 JSON"),
    422: ("validation_failed", "数据校验未通过"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
    500: ("internal_error", "服务器内部错误"),
    503: ("service_unavailable", "服务暂不可用"),
}


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "snake_case error code"})
    message = fields.String(required=True)
    details = fields.Dict(required=True)


class ErrorEnvelopeSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


def envelope(status, code, message, details=None, headers=None):
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _validation_details(messages):
    """webargs nests errors by location ({"json": {...}}); the contract wants field → messages."""
    details = {}
    for location_errors in (messages or {}).values():
        if isinstance(location_errors, dict):
            details.update(location_errors)
        else:
            details.setdefault("_schema", []).extend(location_errors)
    return details


class EnvelopeApi(Api):
    """flask-smorest's Api, documenting and answering errors in the contract's envelope."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def handle_http_exception(self, error):
        return handle_http_exception(error)


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    code, message = HTTP_CODES.get(status, ("error", error.name))
    data = getattr(error, "data", None) or {}
    details = {}
    headers = dict(data.get("headers") or {})
    if status == 422:
        details = _validation_details(data.get("messages"))
        if set(details) == {"_schema"}:
            # A JSON array or scalar where an object belongs is a malformed body, not a field error.
            return envelope(400, "malformed_body", "请求体必须是 JSON 对象", details)
    elif status == 400 and data.get("messages"):
        code, message = "malformed_body", "请求体不是合法的 JSON"
    elif status == 429:
        details = {"limit": str(getattr(error, "description", ""))}
        retry = getattr(error, "retry_after", None)
        if retry:
            headers["Retry-After"] = str(int(retry))
    if status >= 500:
        log.error("request %s failed with %s", g.get("request_id"), status)
    if status == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return envelope(status, code, message, details, headers)


def handle_domain_error(error: DomainError):
    return envelope(error.status, error.code, error.message, error.details)


def handle_database_unavailable(error):
    """The database is down or unreachable: 503, and the pool recovers by itself once it is back (pre-ping)."""
    from extensions import db

    db.session.rollback()
    log.error("request %s: database unavailable (%s)", g.get("request_id"), type(error).__name__)
    return envelope(503, "database_unavailable", "数据库暂不可用，请稍后再试", {"request_id": g.get("request_id")})


def handle_unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("request %s crashed", g.get("request_id"))
    return envelope(500, "internal_error", "服务器内部错误", {"request_id": g.get("request_id")})


def assign_request_id():
    supplied = request.headers.get("X-Request-ID", "")
    g.request_id = supplied if supplied.isalnum() and len(supplied) <= 64 else uuid.uuid4().hex


# The endpoints whose bodies are not JSON: photos (multipart) and WeChat's message push (its own formats).
NON_JSON_PATHS = ("/api/v1/uploads", "/api/v1/wechat/events")


def reject_non_json_body():
    """A body that is not JSON is malformed (400), whatever the endpoint (but those of ``NON_JSON_PATHS``)."""
    has_body = request.method in ("POST", "PUT", "PATCH") and request.content_length
    if has_body and not request.is_json and request.path.startswith("/api/") and request.path not in NON_JSON_PATHS:
        return envelope(400, "malformed_body", "请求体必须是 JSON（Content-Type: application/json）")
    return None


def _fields_with_nul(value, path=""):
    if isinstance(value, str):
        return [path or "_schema"] if "\x00" in value else []
    if isinstance(value, dict):
        return [f for key, item in value.items() for f in _fields_with_nul(item, f"{path}.{key}" if path else key)]
    if isinstance(value, list):
        return [f for item in value for f in _fields_with_nul(item, path)]
    return []


def reject_nul_characters():
    """No text may carry a NUL character: PostgreSQL cannot store it, so it is a field error everywhere."""
    fields = _fields_with_nul(request.get_json(silent=True)) if request.is_json else []
    fields += [key for key, value in request.args.items(multi=True) if "\x00" in value]
    if fields:
        return envelope(422, "validation_failed", "数据校验未通过", {f: ["不能包含空字符"] for f in fields})
    return None


def echo_request_id(response):
    response.headers["X-Request-ID"] = g.get("request_id", "")
    return response


def register_error_handlers(app):
    app.before_request(assign_request_id)
    app.before_request(reject_non_json_body)
    app.before_request(reject_nul_characters)
    app.after_request(echo_request_id)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(InterfaceError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
