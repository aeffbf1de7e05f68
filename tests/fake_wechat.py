"""A local fake of the WeChat server API, served over real HTTP for the tests: login, access tokens, subscribe
messages, content security (msg_sec_check, media_check_async), verified phone numbers (getuserphonenumber),
mini-program codes (getwxacodeunlimit), and the signed message push that delivers a media check's verdict to the app.

Every call taking an access token answers 40001 for a token the test revoked and 42001 for one it expired, and any
path answers the errcodes a test queues for it (``errors[path]``: 45009 quota, 43101 refused, 40029 bad code ...)."""

import hashlib
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeWeChat:
    """State the tests arrange: which login codes are good, which calls fail, how slow it answers."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.logins = {}            # code -> openid
        self.delay = 0.0            # seconds before answering (for timeouts)
        self.down = False           # answer 502 to everything
        self.send_errors = []       # errcodes returned by the next subscribe sends, in order
        self.requests = []          # (method, path, query, body) of every call
        self.token_counter = 0
        self.token_calls = 0
        self.sent = []              # bodies of subscribe messages accepted
        self.text_verdicts = {}     # a word -> the msg_sec_check verdict of any text containing it (else pass)
        self.text_errcode = None    # msg_sec_check answers this errcode instead of a verdict
        self.media_checks = []      # (trace_id, body) of every media_check_async accepted
        self.errors = {}            # path -> errcodes answered by its next calls, in order
        self.revoked = set()        # access tokens answered with 40001 (invalid)
        self.expired = set()        # access tokens answered with 42001 (expired)
        self.token_delay = 0.0      # seconds a token fetch takes (to catch two processes fetching at once)
        self.token_in_flight = 0
        self.token_max_in_flight = 0
        self.phones = {}            # phone code -> (purePhoneNumber, countryCode)
        self.wxacodes = []          # bodies of getwxacodeunlimit calls answered with an image
        self.wxacode_format = "PNG"  # or "JPEG", as WeChat draws a code without a transparent background

    def calls(self, path):
        return [r for r in self.requests if r[1] == path]

    def handle(self, method, path, query, body):
        with self.lock:
            self.requests.append((method, path, query, body))
        if self.delay:
            time.sleep(self.delay)
        if self.down:
            return 502, {"errmsg": "bad gateway"}
        if path == "/sns/jscode2session":
            code = query.get("js_code")
            if code in self.logins:
                return 200, {"openid": self.logins[code], "session_key": "fake-session-key"}
            return 200, {"errcode": 40029, "errmsg": "invalid code"}
        if path in ("/cgi-bin/token", "/cgi-bin/stable_token"):
            return self._fetch_token()
        token = query.get("access_token")
        if token in self.revoked:
            return 200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        if token in self.expired:
            return 200, {"errcode": 42001, "errmsg": "access_token expired"}
        with self.lock:
            queued = self.errors.get(path) or (self.send_errors if path == "/cgi-bin/message/subscribe/send" else [])
            errcode = queued.pop(0) if queued else None
        if errcode:
            return 200, {"errcode": errcode, "errmsg": "fake failure"}
        if path == "/cgi-bin/message/subscribe/send":
            with self.lock:
                self.sent.append(body)
            return 200, {"errcode": 0, "errmsg": "ok"}
        if path == "/wxa/business/getuserphonenumber":
            code = (body or {}).get("code")
            if code not in self.phones:
                return 200, {"errcode": 40029, "errmsg": "invalid code"}
            number, country = self.phones[code]
            return 200, {"errcode": 0, "errmsg": "ok", "phone_info": {
                "phoneNumber": number if country == "86" else f"+{country}{number}", "purePhoneNumber": number,
                "countryCode": country, "watermark": {"timestamp": 1700000000, "appid": "wx-test-app"}}}
        if path == "/wxa/getwxacodeunlimit":
            with self.lock:
                self.wxacodes.append(body)
            return 200, wxacode_png(body, self.wxacode_format)
        if path == "/wxa/msg_sec_check":
            if self.text_errcode:
                return 200, {"errcode": self.text_errcode, "errmsg": "fake failure"}
            content = (body or {}).get("content", "")
            suggest = next((v for word, v in self.text_verdicts.items() if word in content), "pass")
            return 200, {"errcode": 0, "errmsg": "ok", "result": {"suggest": suggest, "label": 100},
                         "detail": [], "trace_id": "msg-trace"}
        if path == "/wxa/media_check_async":
            with self.lock:
                trace_id = f"media-trace-{len(self.media_checks) + 1}"
                self.media_checks.append((trace_id, body))
            return 200, {"errcode": 0, "errmsg": "ok", "trace_id": trace_id}
        return 404, {"errcode": -1, "errmsg": "not found"}

    def _fetch_token(self):
        with self.lock:
            self.token_calls += 1
            self.token_counter += 1
            token = f"fake-access-token-{self.token_counter}"
            self.token_in_flight += 1
            self.token_max_in_flight = max(self.token_max_in_flight, self.token_in_flight)
        try:
            if self.token_delay:
                time.sleep(self.token_delay)
        finally:
            with self.lock:
                self.token_in_flight -= 1
        return 200, {"access_token": token, "expires_in": 7200}


def wxacode_png(body, image_format="PNG"):
    """A real image to stand for a mini-program code: an ordinary QR code of ``page?scene=..`` (decodable in tests)."""
    import qrcode

    buffer = io.BytesIO()
    image = qrcode.make(f"{body.get('page')}?scene={body.get('scene')}&env={body.get('env_version')}",
                        box_size=4, border=2).get_image()
    (image if image_format == "PNG" else image.convert("RGB")).save(buffer, format=image_format)
    return buffer.getvalue()


def serve(fake):
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method):
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            status, payload = fake.handle(method, url.path, query, body)
            binary = isinstance(payload, bytes)
            data = payload if binary else json.dumps(payload).encode()
            kind = ("image/png" if data.startswith(b"\x89PNG") else "image/jpeg") if binary else "application/json"
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a timeout test)

        def do_GET(self):  # noqa: N802
            self._answer("GET")

        def do_POST(self):  # noqa: N802
            self._answer("POST")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def push_query(token, timestamp="1700000000", nonce="fake-nonce"):
    """The query string WeChat signs a message push with: SHA-1 of the sorted token, timestamp and nonce."""
    signature = hashlib.sha1("".join(sorted((token, timestamp, nonce))).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce}


def media_check_event(trace_id, suggest, appid="wx-test-app"):
    """The JSON of a ``wxa_media_check`` push (plaintext mode), as WeChat sends it."""
    return {"ToUserName": "gh_fake", "FromUserName": "fake-openid", "CreateTime": 1700000000, "MsgType": "event",
            "Event": "wxa_media_check", "appid": appid, "trace_id": trace_id, "version": 2,
            "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": 100}],
            "errcode": 0, "errmsg": "ok", "result": {"suggest": suggest, "label": 100}}
