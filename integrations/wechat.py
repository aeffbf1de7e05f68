"""The WeChat server API, over HTTP to ``WECHAT_API_BASE``: login (code2session), the access token (fetched and
cached in one place shared by every process) and subscribe messages."""

import logging
import zlib
from datetime import timedelta

import requests
from flask import current_app
from sqlalchemy import select, text

from errors import DomainError, ServiceUnavailable
from extensions import db
from models import SharedValue
from services.clock import utcnow

log = logging.getLogger("baodao.wechat")

ACCESS_TOKEN_KEY = "wechat_access_token"
# Refresh this long before WeChat's own expiry, so a token is never used in its last minutes.
TOKEN_MARGIN = timedelta(minutes=5)
# errcodes meaning the access token is no longer valid.
TOKEN_ERRCODES = {40001, 40014, 42001}


class WeChatLoginFailed(DomainError):
    status = 401
    default_code = "wechat_login_failed"
    default_message = "微信登录失败，请重试"


class WeChatSendFailed(Exception):
    """WeChat answered a send with a non-zero errcode."""

    def __init__(self, errcode, errmsg=None):
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"errcode {errcode}")


class WeChatSendUncertain(Exception):
    """The send timed out after the request went out: WeChat may or may not have delivered it."""


class WeChatClient:
    def __init__(self, appid, secret, base_url, timeout):
        self.appid = appid
        self.secret = secret
        self.base_url = base_url
        self.timeout = timeout

    @classmethod
    def from_config(cls):
        config = current_app.config
        if not config["WECHAT_APPID"] or not config["WECHAT_SECRET"]:
            raise ServiceUnavailable("wechat_not_configured", "未配置微信小程序凭据")
        return cls(config["WECHAT_APPID"], config["WECHAT_SECRET"], config["WECHAT_API_BASE"],
                   config["WECHAT_TIMEOUT_SECONDS"])

    def _get(self, path, params):
        try:
            response = requests.get(self.base_url + path, params=params, timeout=self.timeout)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as exc:
            log.warning("wechat %s unavailable: %s", path, type(exc).__name__)
            raise ServiceUnavailable("wechat_unavailable", "微信服务暂不可用，请稍后再试") from exc

    def _post(self, path, body, params=None):
        try:
            response = requests.post(self.base_url + path, params=params, json=body, timeout=self.timeout)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as exc:
            log.warning("wechat %s unavailable: %s", path, type(exc).__name__)
            raise ServiceUnavailable("wechat_unavailable", "微信服务暂不可用，请稍后再试") from exc

    def code2session(self, code):
        """The member's openid for a login code; the session_key is never kept or returned."""
        data = self._get("/sns/jscode2session", {
            "appid": self.appid, "secret": self.secret, "js_code": code, "grant_type": "authorization_code",
        })
        if data.get("errcode"):
            log.info("wechat login rejected with errcode %s", data.get("errcode"))
            raise WeChatLoginFailed(details={"errcode": data.get("errcode")})
        if not data.get("openid"):
            raise WeChatLoginFailed()
        return data["openid"]

    def fetch_access_token(self):
        """A fresh access token and its lifetime in seconds (the stable token: fetching it revokes no other)."""
        data = self._post("/cgi-bin/stable_token", {
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
        })
        if data.get("errcode") or not data.get("access_token"):
            log.warning("wechat access token refused with errcode %s", data.get("errcode"))
            raise ServiceUnavailable("wechat_unavailable", "微信服务暂不可用，请稍后再试")
        return data["access_token"], int(data.get("expires_in") or 7200)

    def access_token(self, refresh=False):
        return token_cache().get(self, refresh=refresh)

    def send_subscribe_message(self, touser, template_id, page, data):
        """Send one subscribe message; raises WeChatSendFailed on a non-zero errcode (retrying is the caller's)."""
        body = {"touser": touser, "template_id": template_id, "page": page, "data": data}
        answer = self._send(body, self.access_token())
        if answer.get("errcode") in TOKEN_ERRCODES:
            # Revoked or expired early: fetch a new one once, then send again.
            answer = self._send(body, self.access_token(refresh=True))
        if answer.get("errcode"):
            raise WeChatSendFailed(answer.get("errcode"), answer.get("errmsg"))


    def _send(self, body, access_token):
        try:
            return self._post("/cgi-bin/message/subscribe/send", body, params={"access_token": access_token})
        except ServiceUnavailable as exc:
            if isinstance(exc.__cause__, requests.ReadTimeout):
                raise WeChatSendUncertain() from exc
            raise


def token_cache():
    url = current_app.config.get("REDIS_URL")
    return RedisTokenCache(url) if url else DatabaseTokenCache()


class DatabaseTokenCache:
    """The token in the ``shared_values`` table; fetching happens under a lock (a PostgreSQL advisory lock, or
    SQLite's write lock), on a connection of its own so the caller's transaction is untouched."""

    LOCK_ID = zlib.crc32(b"baodao:wechat-access-token")

    def _read(self, conn):
        row = conn.execute(select(SharedValue.value, SharedValue.expires_at)
                           .where(SharedValue.key == ACCESS_TOKEN_KEY)).first()
        if row is not None and row.expires_at is not None and row.expires_at - TOKEN_MARGIN > utcnow():
            return row.value
        return None

    def get(self, client, refresh=False):
        if not refresh:
            with db.engine.connect() as conn:
                token = self._read(conn)
            if token:
                return token
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": self.LOCK_ID})
            else:
                # SQLite: BEGIN IMMEDIATE already holds the write lock; touch the table so it is this transaction's.
                conn.execute(select(SharedValue.key).where(SharedValue.key == ACCESS_TOKEN_KEY))
            token = None if refresh else self._read(conn)
            if token:
                return token
            token, lifetime = client.fetch_access_token()
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

    def get(self, client, refresh=False):
        if not refresh:
            token = self.redis.get(self.KEY)
            if token:
                return token.decode()
        with self.redis.lock(self.KEY + ":lock", timeout=30, blocking_timeout=30):
            if not refresh:
                token = self.redis.get(self.KEY)
                if token:
                    return token.decode()
            token, lifetime = client.fetch_access_token()
            ttl = max(int(lifetime - TOKEN_MARGIN.total_seconds()), 60)
            self.redis.set(self.KEY, token, ex=ttl)
            log.info("wechat access token refreshed")
            return token
