"""Links that carry their own permission: ``<path>?exp=&sig=``, an HMAC (of the app's SECRET_KEY, per purpose) of
the object's id and the link's expiry. A photo's link (services/uploads.py) is fetched by a mini-program ``<image>``
and by WeChat's media check, a finished job's file (services/background.py) by a browser: none of them sends a
bearer token, and whoever holds the link may fetch it until it expires."""

import hashlib
import hmac

from flask import current_app, has_request_context, request

from clock import utcnow


def _signature(purpose, object_id, expires):
    key = hmac.new(current_app.config["SECRET_KEY"].encode(), f"baodao {purpose} links".encode(), hashlib.sha256)
    return hmac.new(key.digest(), f"{object_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def base_url(public=False):
    """The origin links are made under: a development server answers at its own address; production links (and
    WeChat's) use PUBLIC_BASE_URL."""
    config = current_app.config
    if not public and has_request_context() and config.get("APP_ENV") != "production":
        return request.host_url.rstrip("/")
    return config["PUBLIC_BASE_URL"]


def signed_link(path, purpose, object_id, public=False):
    """``path`` (under the origin) with an expiry ``UPLOAD_URL_SECONDS`` away and its signature."""
    expires = int(utcnow().timestamp()) + current_app.config["UPLOAD_URL_SECONDS"]
    return f"{base_url(public)}{path}?exp={expires}&sig={_signature(purpose, object_id, expires)}"


def check(purpose, object_id, exp, sig, expired):
    """Raise ``expired`` (a DomainError) unless ``exp``/``sig`` sign ``object_id`` for ``purpose`` and have not
    expired; an altered link and an old one are refused alike."""
    if not isinstance(exp, str) or not exp.isascii() or not exp.isdigit() or len(exp) > 12 \
            or not isinstance(sig, str):
        raise expired
    if not hmac.compare_digest(_signature(purpose, object_id, int(exp)).encode(), sig.encode()):
        raise expired
    if int(exp) < utcnow().timestamp():
        raise expired
