"""Check-in tokens: short, signed, self-describing strings shown as QR codes.

A token is the base64url (no padding) of 24 packed bytes: kind (``a`` activity, ``p`` post), key id, target id,
time slot and a 14-byte truncated HMAC-SHA256, so it is exactly 32 characters of ``[0-9A-Za-z_-]`` and fits a
mini-program code's ``scene``. The HMAC key is derived from ``SECRET_KEY`` and the key id, so keys rotate by
raising ``CHECKIN_KEY_ID`` (older ids stay accepted while listed in ``CHECKIN_ACCEPTED_KEY_IDS``). A forged or
altered token is refused by the signature alone, before any database lookup.

An activity's token carries ``slot = floor(epoch / QR_ROTATE_SECONDS)`` and is accepted in its slot and one extra
period. A post's token is static (slot 0): it is printed at the post and is only accepted during a shift there.
"""

import base64
import binascii
import hashlib
import hmac
import re
import struct
from datetime import UTC, datetime

from flask import current_app

from clock import utcnow
from errors import BadRequest

KINDS = {"activity": b"a", "post": b"p"}
KIND_NAMES = {v: k for k, v in KINDS.items()}
# kind (1 byte), key id (1), target id (4), slot (4): 10 bytes, then the MAC.
HEADER = struct.Struct(">cBII")
MAC_BYTES = 14
TOKEN_PATTERN = re.compile(r"\A[0-9A-Za-z_-]{32}\Z")


def _invalid():
    return BadRequest("invalid_token", "二维码无效")


def _expired():
    return BadRequest("token_expired", "二维码已过期，请重新扫描")


def _current_key_id():
    return current_app.config["CHECKIN_KEY_ID"]


def _accepted_key_ids():
    accepted = current_app.config["CHECKIN_ACCEPTED_KEY_IDS"]
    return {int(k) for k in accepted} if accepted else {_current_key_id()}


def _key(key_id):
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, b"baodao-checkin-token:" + bytes([key_id]), hashlib.sha256).digest()


def _mac(key_id, header):
    return hmac.new(_key(key_id), header, hashlib.sha256).digest()[:MAC_BYTES]


def _rotate_seconds():
    return int(current_app.config["QR_ROTATE_SECONDS"])


def _slot(now):
    return int(now.timestamp()) // _rotate_seconds()


def encode(kind, target_id, slot, key_id=None):
    key_id = _current_key_id() if key_id is None else key_id
    header = HEADER.pack(KINDS[kind], key_id, target_id, slot)
    raw = header + _mac(key_id, header)
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def activity_token(activity, now=None):
    """The activity's current token and the instant it stops being accepted (end of the extra period)."""
    slot = _slot(now or utcnow())
    expires_at = datetime.fromtimestamp((slot + 2) * _rotate_seconds(), tz=UTC)
    return encode("activity", activity.id, slot), expires_at


def post_token(post):
    """The post's static token, for printing at the post."""
    return encode("post", post.id, 0)


def checkin_url(token):
    """An https link carrying the token, for WeChat's "scan an ordinary QR code to open the mini-program"."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/checkin?t={token}"


def decode(token, now=None):
    """``(kind, target_id, slot)`` of a genuine, current token; else BadRequest invalid_token / token_expired."""
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        raise _invalid()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise _invalid() from None
    if len(raw) != HEADER.size + MAC_BYTES:
        raise _invalid()
    header, mac = raw[:HEADER.size], raw[HEADER.size:]
    kind_byte, key_id, target_id, slot = HEADER.unpack(header)
    if kind_byte not in KIND_NAMES or key_id not in _accepted_key_ids():
        raise _invalid()
    if not hmac.compare_digest(mac, _mac(key_id, header)):
        raise _invalid()
    kind = KIND_NAMES[kind_byte]
    if kind == "post":
        if slot != 0:
            raise _invalid()
        return kind, target_id, slot
    current = _slot(now or utcnow())
    if slot > current:
        raise _invalid()
    if slot < current - 1:
        raise _expired()
    return kind, target_id, slot
