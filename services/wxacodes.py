"""Mini-program codes (小程序码) of check-in tokens: WeChat's getwxacodeunlimit draws one opening
``WECHAT_CHECKIN_PAGE`` with the token as its ``scene``, so WeChat's own scanner opens the mini-program at check-in.

Each token's image is asked of WeChat once and kept in the files' storage (services/storage.py), named in the
``wxa_codes`` table: an activity's until its token expires (expired ones are removed as new ones are kept), a post's
for good. Two first requests for one token wait on a lock for the token, so WeChat draws it once.
"""

import hashlib
import io
import logging
import zlib
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, text

from clock import utcnow
from errors import BadGateway
from extensions import db
from integrations.wechat import WeChatRefused, WeChatUnavailable
from models import WxaCode
from services import wechat
from services.database import insert_ignoring_conflicts
from services.storage import storage

log = logging.getLogger("baodao.wechat")

# How long a client may keep a post's image: the code itself never changes unless CHECKIN_KEY_ID is rotated.
POST_CODE_CACHE = timedelta(days=30)
# Expired activity codes removed each time a new one is kept.
CLEANUP_BATCH = 50


def _storage_key(token):
    return "wx" + hashlib.sha256(token.encode()).hexdigest()[:40] + ".png"


def _lock(token):
    """The token's own lock, until the transaction ends (SQLite's single writer serialises on its own)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"),
                           {"id": zlib.crc32(b"baodao:wxacode:" + token.encode())})


def image(token, expires_at=None):
    """The PNG of ``token``'s mini-program code and when a client should stop using it. 503 without WeChat
    credentials or when WeChat is unreachable; 502 ``wechat_error`` when WeChat answers an errcode."""
    now = utcnow()
    _lock(token)
    row = db.session.get(WxaCode, token)
    if row is not None:
        data = storage().get(row.storage_key)
        if data is not None:
            return data, _expires(row.expires_at, now)
    config = current_app.config
    wechat_client = wechat.client()
    try:
        data = wechat_client.wxacode(token, config["WECHAT_CHECKIN_PAGE"], config["WECHAT_ENV_VERSION"])
    except WeChatRefused as exc:
        log.warning("getwxacodeunlimit refused with errcode %s", exc.errcode)
        raise BadGateway("wechat_error", "微信未能生成小程序码", {"errcode": exc.errcode}) from None
    except WeChatUnavailable:
        raise wechat.unavailable() from None
    data = as_png(data)
    key = _storage_key(token)
    storage().put(key, data, "image/png")
    if row is None:
        db.session.execute(insert_ignoring_conflicts(WxaCode).values(token=token, storage_key=key,
                                                                     expires_at=expires_at, created_at=now))
    if expires_at is not None:
        _remove_expired(now)
    return data, _expires(expires_at, now)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def as_png(data):
    """WeChat draws its codes as JPEG unless asked for a transparent background: the answer is always a PNG."""
    if data.startswith(PNG_SIGNATURE):
        return data
    from PIL import Image

    buffer = io.BytesIO()
    with Image.open(io.BytesIO(data)) as picture:
        picture.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _expires(expires_at, now):
    return expires_at if expires_at is not None else now + POST_CODE_CACHE


def _remove_expired(now):
    expired = list(db.session.execute(select(WxaCode.token, WxaCode.storage_key)
                                      .where(WxaCode.expires_at < now).limit(CLEANUP_BATCH)))
    if not expired:
        return
    for _token, key in expired:
        storage().delete(key)
    db.session.execute(delete(WxaCode).where(WxaCode.token.in_([t for t, _ in expired]))
                       .execution_options(synchronize_session=False))
