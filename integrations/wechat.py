"""The WeChat server API over HTTP: login (code2session), the access token, subscribe messages, content security
(msg_sec_check for text, media_check_async for images), verified phone numbers (getuserphonenumber), mini-program
codes (getwxacodeunlimit), and the signature of its message push.

This module knows WeChat's protocol and nothing of baodao: it is given its settings and a token cache (shared by
every process, services/wechat.py) and raises its own errors, which the services turn into answers.
"""

import hashlib
import hmac
import logging

import requests

log = logging.getLogger("baodao.wechat")

# errcodes meaning the access token is no longer valid: renew it at once and ask again, once.
TOKEN_ERRCODES = {40001, 40014, 42001}


class WeChatError(Exception):
    """Anything that kept a WeChat call from succeeding."""


class WeChatUnavailable(WeChatError):
    """WeChat could not be reached, timed out, or answered something that is not its JSON."""


class WeChatSendUncertain(WeChatUnavailable):
    """A send timed out after the request went out: WeChat may or may not have delivered it."""


class WeChatRefused(WeChatError):
    """WeChat answered with a non-zero errcode (or without what a success carries)."""

    def __init__(self, errcode, errmsg=None):
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"errcode {errcode}")


class WeChatClient:
    """One mini-program's credentials against ``base_url``; ``token_cache.get(fetch, refresh)`` returns the access
    token, calling ``fetch()`` (a fresh token and its lifetime in seconds) only when it must."""

    def __init__(self, appid, secret, base_url, timeout, token_cache):
        self.appid = appid
        self.secret = secret
        self.base_url = base_url
        self.timeout = timeout
        self.token_cache = token_cache

    def _call(self, method, path, *, params=None, body=None, uncertain_on_timeout=False, image=False):
        """WeChat's JSON answer; with ``image``, the bytes of an image answer (WeChat answers JSON only to refuse)."""
        try:
            response = requests.request(method, self.base_url + path, params=params, json=body, timeout=self.timeout)
            response.raise_for_status()
            if image and response.headers.get("Content-Type", "").startswith("image/"):
                return response.content
            return response.json()
        except requests.ReadTimeout as exc:
            log.warning("wechat %s timed out", path)
            raise (WeChatSendUncertain if uncertain_on_timeout else WeChatUnavailable)() from exc
        except (requests.RequestException, ValueError) as exc:
            log.warning("wechat %s unavailable: %s", path, type(exc).__name__)
            raise WeChatUnavailable() from exc

    def code2session(self, code):
        """The member's openid for a login code; the session_key is never kept or returned."""
        data = self._call("GET", "/sns/jscode2session", params={
            "appid": self.appid, "secret": self.secret, "js_code": code, "grant_type": "authorization_code",
        })
        if data.get("errcode") or not data.get("openid"):
            log.info("wechat login rejected with errcode %s", data.get("errcode"))
            raise WeChatRefused(data.get("errcode"), data.get("errmsg"))
        return data["openid"]

    def fetch_access_token(self):
        """A fresh access token and its lifetime in seconds (the stable token: fetching it revokes no other)."""
        data = self._call("POST", "/cgi-bin/stable_token", body={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
        })
        if data.get("errcode") or not data.get("access_token"):
            log.warning("wechat access token refused with errcode %s", data.get("errcode"))
            raise WeChatUnavailable()
        return data["access_token"], int(data.get("expires_in") or 7200)

    def access_token(self, refresh=False, stale=None):
        """The shared token; ``refresh`` renews it, unless another process already replaced ``stale`` (the token
        WeChat just refused), so many callers refused at once cause one fetch."""
        return self.token_cache.get(self.fetch_access_token, refresh=refresh, stale=stale)

    def send_subscribe_message(self, touser, template_id, page, data):
        """Send one subscribe message; WeChatRefused on a non-zero errcode (retrying is the caller's)."""
        self._with_token("/cgi-bin/message/subscribe/send",
                         {"touser": touser, "template_id": template_id, "page": page, "data": data},
                         uncertain_on_timeout=True)

    def _with_token(self, path, body, **options):
        """POST ``body`` to ``path`` with the access token, renewed and asked again once when WeChat says it is no
        longer valid (40001, 42001); WeChatRefused on any other non-zero errcode."""
        token = self.access_token()
        answer = self._call("POST", path, params={"access_token": token}, body=body, **options)
        if isinstance(answer, dict) and answer.get("errcode") in TOKEN_ERRCODES:
            log.info("wechat %s refused the access token (errcode %s): renewed and asked again", path,
                     answer.get("errcode"))
            token = self.access_token(refresh=True, stale=token)
            answer = self._call("POST", path, params={"access_token": token}, body=body, **options)
        if isinstance(answer, dict) and answer.get("errcode"):
            raise WeChatRefused(answer.get("errcode"), answer.get("errmsg"))
        return answer

    def phone_number(self, code):
        """The verified phone of a ``getPhoneNumber`` code: (purePhoneNumber, countryCode)."""
        answer = self._with_token("/wxa/business/getuserphonenumber", {"code": code})
        info = answer.get("phone_info") or {}
        if not info.get("purePhoneNumber"):
            raise WeChatUnavailable()
        return info["purePhoneNumber"], str(info.get("countryCode") or "")

    def wxacode(self, scene, page, env_version):
        """The PNG of an unlimited mini-program code opening ``page`` with ``scene``."""
        answer = self._with_token("/wxa/getwxacodeunlimit", {"scene": scene, "page": page, "check_path": False,
                                                            "env_version": env_version}, image=True)
        if not isinstance(answer, bytes):
            raise WeChatUnavailable()
        return answer

    def msg_sec_check(self, content, scene, openid):
        """WeChat's verdict on a text (version 2): ``pass``, ``review`` or ``risky``."""
        answer = self._with_token("/wxa/msg_sec_check", {"content": content, "version": 2, "scene": scene,
                                                         "openid": openid})
        suggest = (answer.get("result") or {}).get("suggest")
        if suggest not in ("pass", "review", "risky"):
            raise WeChatUnavailable()
        return suggest

    def media_check_async(self, media_url, scene, openid, media_type=2):
        """Ask WeChat to check an image (``media_type`` 2) it fetches from ``media_url``; its verdict comes later by
        message push, matched by the ``trace_id`` returned here."""
        answer = self._with_token("/wxa/media_check_async", {"media_url": media_url, "media_type": media_type,
                                                             "version": 2, "scene": scene, "openid": openid})
        if not answer.get("trace_id"):
            raise WeChatUnavailable()
        return answer["trace_id"]


def push_signature(token, timestamp, nonce):
    """The signature of a message push: SHA-1 of the token, timestamp and nonce sorted and joined."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce))).encode()).hexdigest()


def push_signature_valid(token, timestamp, nonce, signature):
    if not (token and timestamp and nonce and signature):
        return False
    return hmac.compare_digest(push_signature(token, timestamp, nonce).encode(), signature.lower().encode())
