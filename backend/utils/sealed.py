"""Seal a JSON value so it can be stored but not read from the database: authenticated
encryption keyed by ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS`` still open older ones).

For the idempotent answers (a checkout's answer carries the guest's order token,
which is otherwise stored only as a hash). The standard library has no cipher and
the project locks no cryptography package, so this is encrypt-then-MAC built from
HMAC-SHA256 only: a keystream of HMAC(enc_key, nonce || counter) blocks XORed with
the plaintext (a PRF in counter mode), then HMAC(mac_key, version || nonce ||
ciphertext) over the result, checked in constant time. Keys are derived per
purpose with ``salted_hmac``; the nonce is 16 random bytes per value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from django.conf import settings
from django.utils.crypto import salted_hmac

VERSION = b"s1"
PREFIX = "sealed:s1:"
_NONCE = 16
_TAG = 32
_BLOCK = 32


class UnsealError(Exception):
    """The value was not sealed with any of this deployment's keys, or was altered."""


def _keys(secret: str, purpose: str) -> tuple[bytes, bytes]:
    enc = salted_hmac(f"utils.sealed.enc.{purpose}", "key", secret=secret, algorithm="sha256")
    mac = salted_hmac(f"utils.sealed.mac.{purpose}", "key", secret=secret, algorithm="sha256")
    return enc.digest(), mac.digest()


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + _BLOCK - 1) // _BLOCK
    return b"".join(
        hmac.new(key, nonce + n.to_bytes(8, "big"), hashlib.sha256).digest() for n in range(blocks)
    )[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def seal(value: Any, *, purpose: str) -> str:
    """``value`` (plain JSON) as an opaque, tamper-evident string."""
    plain = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    enc_key, mac_key = _keys(settings.SECRET_KEY, purpose)
    nonce = secrets.token_bytes(_NONCE)
    cipher = _xor(plain, _keystream(enc_key, nonce, len(plain)))
    tag = hmac.new(mac_key, VERSION + nonce + cipher, hashlib.sha256).digest()
    return PREFIX + base64.urlsafe_b64encode(nonce + cipher + tag).decode()


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def unseal(token: str, *, purpose: str) -> Any:
    """The value ``seal`` was given; ``UnsealError`` if no key opens it."""
    if not is_sealed(token):
        raise UnsealError("not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(token[len(PREFIX) :].encode())
    except ValueError as exc:
        raise UnsealError("not a sealed value") from exc
    if len(raw) < _NONCE + _TAG:
        raise UnsealError("truncated")
    nonce, cipher, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
    for secret in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        enc_key, mac_key = _keys(secret, purpose)
        expected = hmac.new(mac_key, VERSION + nonce + cipher, hashlib.sha256).digest()
        if hmac.compare_digest(expected, tag):
            return json.loads(_xor(cipher, _keystream(enc_key, nonce, len(cipher))))
    raise UnsealError("no key opens this value (altered, or sealed with a retired key)")
