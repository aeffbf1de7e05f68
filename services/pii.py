"""Personal data: validation, masking and encryption of phone and resident ID numbers.

A resident ID number is valid when python-stdnum's ``cn.ric`` accepts it (GB 11643: the check digit, a real
birth date, a region code that existed in the birth year) and the birth date is not in the future. ID numbers are
stored with AES-GCM (a fresh nonce each time) and a keyed HMAC for uniqueness lookups.
"""

import base64
import hashlib
import hmac
import os
import re

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from clock import local_today

# ASCII digits only, anchored at both ends: ``\d`` would take Arabic-Indic digits and ``$`` a final newline. stdnum
# strips separators and spaces before it checks; the contract wants exactly 18 characters.
PHONE_RE = re.compile(r"\A1[3-9][0-9]{9}\Z")
ID_RE = re.compile(r"\A[0-9]{17}[0-9X]\Z")


def is_valid_phone(phone):
    return isinstance(phone, str) and PHONE_RE.fullmatch(phone) is not None


def is_valid_id_number(id_number):
    """GB 11643: 17 digits and a check digit (ISO 7064 MOD 11-2), a birth date that exists and has passed, and a
    region code known for the birth year."""
    value = normal_id_number(id_number or "")
    if not ID_RE.fullmatch(value):
        return False
    try:
        ric.validate(value)
    except ValidationError:
        return False
    return ric.get_birth_date(value) <= local_today()


def mask_phone(phone):
    return f"{phone[:3]}****{phone[-4:]}" if phone else None


def mask_id_number(id_number):
    return f"{id_number[:6]}{'*' * 8}{id_number[-4:]}" if id_number else None


def mask_name(name):
    if not name:
        return None
    return name[0] + "*" * max(1, len(name) - 1)


def _key():
    return base64.b64decode(current_app.config["PII_ENCRYPTION_KEY"])


def _hash_key():
    return hmac.new(_key(), b"baodao id-number lookup", hashlib.sha256).digest()


def encrypt(plaintext):
    nonce = os.urandom(12)
    return nonce + AESGCM(_key()).encrypt(nonce, plaintext.encode(), b"id_number")


def decrypt(blob):
    return AESGCM(_key()).decrypt(blob[:12], blob[12:], b"id_number").decode()


def normal_id_number(id_number):
    """The one way an ID number is written: the check character X in upper case."""
    return id_number.upper()


def lookup_hash(id_number):
    """The keyed fingerprint that keeps one ID number to one member, over the normal form."""
    return hmac.new(_hash_key(), normal_id_number(id_number).encode(), hashlib.sha256).hexdigest()
