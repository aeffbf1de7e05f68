"""baodao's side of WeChat: the client made from the configuration, the access token shared by every process, and
WeChat's failures turned into the contract's answers.

Content security never fails a request: without credentials (a newcomer's ``make run``) text and photos are
accepted as they are; WeChat unreachable or answering an errcode makes text ``review`` (staff decide) and leaves a
photo's check to be asked again later.
"""

import logging
import zlib
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, text

from clock import utcnow
from errors import ServiceUnavailable, Unauthorized
from extensions import db
from integrations.wechat import WeChatClient, WeChatRefused, WeChatUnavailable
from models import SharedValue

log = logging.getLogger("baodao.wechat")

ACCESS_TOKEN_KEY = "wechat_access_token"
# Refresh this long before WeChat's own expiry, so a token is never used in its last minutes.
TOKEN_MARGIN = timedelta(minutes=5)


def unavailable():
    return ServiceUnavailable("wechat_unavailable", "微信服务暂不可用，请稍后再试")


def client():
    """The configured mini-program's client; 503 ``wechat_not_configured`` without credentials."""
    config = current_app.config
    if not config["WECHAT_APPID"] or not config["WECHAT_SECRET"]:
        raise ServiceUnavailable("wechat_not_configured", "未配置微信小程序凭据")
    return WeChatClient(config["WECHAT_APPID"], config["WECHAT_SECRET"], config["WECHAT_API_BASE"],
                        config["WECHAT_TIMEOUT_SECONDS"], token_cache())


def code2session(code):
    """The openid of a login code: 401 ``wechat_login_failed`` when WeChat refuses it, 503 when unreachable."""
    try:
        return client().code2session(code)
    except WeChatRefused as exc:
        raise Unauthorized("wechat_login_failed", "微信登录失败，请重试",
                           {"errcode": exc.errcode} if exc.errcode else None) from None
    except WeChatUnavailable:
        raise unavailable() from None


def configured():
    config = current_app.config
    return bool(config["WECHAT_APPID"] and config["WECHAT_SECRET"])


# Text longer than this is checked in parts (WeChat's limit per call).
TEXT_CHECK_PART = 2500
VERDICT_ORDER = ("pass", "review", "risky")


def text_verdict(text, scene, openid):
    """``pass``, ``review`` or ``risky`` for a member's text (the worst verdict of its parts); ``pass`` when WeChat
    is not configured, ``review`` when it cannot answer."""
    if not text or not configured():
        return "pass"
    worst = "pass"
    wechat = client()
    for start in range(0, len(text), TEXT_CHECK_PART):
        try:
            suggest = wechat.msg_sec_check(text[start:start + TEXT_CHECK_PART], scene, openid)
        except (WeChatRefused, WeChatUnavailable):
            log.warning("msg_sec_check unavailable: the text goes to review")
            return "review"
        worst = max(worst, suggest, key=VERDICT_ORDER.index)
        if worst == "risky":
            break
    return worst


def submit_media_check(media_url, openid, scene=1):
    """The trace id of an asynchronous image check, or None when WeChat could not take it (it is asked again)."""
    try:
        return client().media_check_async(media_url, scene, openid)
    except (WeChatRefused, WeChatUnavailable):
        log.warning("media_check_async unavailable: the photo's check is retried later")
        return None


def token_cache():
    url = current_app.config.get("REDIS_URL")
    return RedisTokenCache(url) if url else DatabaseTokenCache()


class DatabaseTokenCache:
    """The token in the ``shared_values`` table; fetching happens under a lock (a PostgreSQL advisory lock, or
    SQLite's write lock), on a connection of its own so the caller's transaction is untouched. On SQLite a caller
    already in a transaction holds the one write lock, so the token is read and kept on the caller's connection
    instead (a second connection would wait for it forever)."""

    LOCK_ID = zlib.crc32(b"baodao:wechat-access-token")

    def _read(self, conn):
        row = conn.execute(select(SharedValue.value, SharedValue.expires_at)
                           .where(SharedValue.key == ACCESS_TOKEN_KEY)).first()
        if row is not None and row.expires_at is not None and row.expires_at - TOKEN_MARGIN > utcnow():
            return row.value
        return None

    @contextmanager
    def _connection(self, writing):
        if db.engine.dialect.name == "sqlite" and db.session().in_transaction():
            yield db.session.connection()
            return
        with db.engine.begin() if writing else db.engine.connect() as conn:
            yield conn

    def get(self, fetch, refresh=False, stale=None):
        if not refresh:
            with self._connection(writing=False) as conn:
                token = self._read(conn)
            if token:
                return token
        with self._connection(writing=True) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": self.LOCK_ID})
            else:
                # SQLite: BEGIN IMMEDIATE already holds the write lock; touch the table so it is this transaction's.
                conn.execute(select(SharedValue.key).where(SharedValue.key == ACCESS_TOKEN_KEY))
            token = self._read(conn)
            if token and (not refresh or (stale is not None and token != stale)):
                return token
            token, lifetime = fetch()
            expires_at = utcnow() + timedelta(seconds=lifetime)
            table = SharedValue.__table__
            updated = conn.execute(table.update().where(table.c.key == ACCESS_TOKEN_KEY)
                                   .values(value=token, expires_at=expires_at)).rowcount
            if not updated:
                conn.execute(table.insert().values(key=ACCESS_TOKEN_KEY, value=token, expires_at=expires_at))
            log.info("wechat access token refreshed")
            return token


class RedisTokenCache:
    """The token in Redis, fetched under a Redis lock by whichever process finds it missing first."""

    KEY = "baodao:wechat:access_token"

    def __init__(self, url):
        import redis

        self.redis = redis.Redis.from_url(url)

    def get(self, fetch, refresh=False, stale=None):
        if not refresh:
            token = self.redis.get(self.KEY)
            if token:
                return token.decode()
        with self.redis.lock(self.KEY + ":lock", timeout=30, blocking_timeout=30):
            token = self.redis.get(self.KEY)
            token = token.decode() if token else None
            if token and (not refresh or (stale is not None and token != stale)):
                return token
            token, lifetime = fetch()
            ttl = max(int(lifetime - TOKEN_MARGIN.total_seconds()), 60)
            self.redis.set(self.KEY, token, ex=ttl)
            log.info("wechat access token refreshed")
            return token
