"""The WeChat server API, over HTTP to ``WECHAT_API_BASE``: login (code2session)."""

import logging

import requests
from flask import current_app

from errors import DomainError, ServiceUnavailable

log = logging.getLogger("baodao.wechat")


class WeChatLoginFailed(DomainError):
    status = 401
    default_code = "wechat_login_failed"
    default_message = "微信登录失败，请重试"


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
