"""Seal a JSON value so it can be stored but not read from the database: authenticated
encryption keyed by ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS`` still open older ones).

For the idempotent answers (a checkout's answer carries the guest's order token,
which is otherwise stored only as a hash). The cipher is the ``cryptography``
package's AES-256-GCM (``AESGCM``), not hand-built:

- format ``s2``: ``sealed:s2:`` + urlsafe base64 of ``nonce (12 random bytes) ||
  ciphertext || GCM tag (16 bytes)``;
- the key is derived per purpose with HKDF-SHA256 from the secret (``info`` names
  the format and the purpose), and the associated data is the prefix and the
  purpose, so a value opens only for the purpose and format it was sealed for;
- a random 96-bit nonce per value: AES-GCM stays within its bounds up to about 2**32
  values per key, far above what one purpose seals between key rotations.

Values sealed by the previous, hand-built format ``s1`` still open (read only, see
``_unseal_s1``) until they have all expired. ``is_sealed`` recognises any
``sealed:`` value, so one in a format this release cannot open (a retired format, or
a newer one) is an ``UnsealError`` for the caller to handle, never a plain string.
The release before s2 knew only ``sealed:s1:``: a process of that release would hand an
s2 value back as a plain string, so do not roll back to it (or keep it serving beside
this one) while s2 values are stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils.crypto import salted_hmac

MARK = "sealed:"
PREFIX = "sealed:s2:"
_NONCE = 12
_TAG = 16
_KEY = 32


class UnsealError(Exception):
    """The value was not sealed with any of this deployment's keys, or was altered."""


def _secrets() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def _aead(secret: str, purpose: str) -> AESGCM:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=_KEY,
        salt=None,
        info=f"storefront utils.sealed {PREFIX}{purpose}".encode(),
    )
    return AESGCM(hkdf.derive(secret.encode()))


def _associated_data(purpose: str) -> bytes:
    return f"{PREFIX}{purpose}".encode()


def seal(value: Any, *, purpose: str) -> str:
    """``value`` (plain JSON) as an opaque, tamper-evident string."""
    plain = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    nonce = secrets.token_bytes(_NONCE)
    sealed = _aead(settings.SECRET_KEY, purpose).encrypt(nonce, plain, _associated_data(purpose))
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def is_sealed(value: Any) -> bool:
    """Whether ``value`` is a sealed value, of this format or another one."""
    return isinstance(value, str) and value.startswith(MARK)


def unseal(token: str, *, purpose: str) -> Any:
    """The value ``seal`` was given; ``UnsealError`` if no key opens it."""
    if not is_sealed(token):
        raise UnsealError("not a sealed value")
    if token.startswith(_S1_PREFIX):
        return _unseal_s1(_decode(token[len(_S1_PREFIX) :]), purpose=purpose)
    if not token.startswith(PREFIX):
        raise UnsealError("a sealed format this release cannot open")
    raw = _decode(token[len(PREFIX) :])
    if len(raw) < _NONCE + _TAG:
        raise UnsealError("truncated")
    nonce, sealed = raw[:_NONCE], raw[_NONCE:]
    for secret in _secrets():
        try:
            plain = _aead(secret, purpose).decrypt(nonce, sealed, _associated_data(purpose))
        except InvalidTag:
            continue
        return json.loads(plain)
    raise UnsealError("no key opens this value (altered, or sealed with a retired key)")


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text.encode())
    except ValueError as exc:  # binascii.Error, or a character that is not ASCII
        raise UnsealError("not a sealed value") from exc


# --- Format s1: read only --------------------------------------------------------------
# The hand-built format written before s2: HMAC-SHA256 keystream XOR (a PRF in counter
# mode) then HMAC-SHA256 over version || nonce || ciphertext, keys from ``salted_hmac``.
# Nothing writes it any more. DELETE this section (and its branch in ``unseal``, and
# ``test_an_s1_value_*`` in test_sealed.py) once IDEMPOTENCY_KEY_TTL_HOURS (24 h) have
# passed since the last process of the release before s2 stopped: by then every s1
# record has expired, and an expired record is never replayed. After the deletion an s1
# value is still ``is_sealed`` and ``unseal`` raises ``UnsealError`` for it.
_S1_PREFIX = "sealed:s1:"
_S1_VERSION = b"s1"
_S1_NONCE = 16
_S1_TAG = 32
_S1_BLOCK = 32


def _unseal_s1(raw: bytes, *, purpose: str) -> Any:
    if len(raw) < _S1_NONCE + _S1_TAG:
        raise UnsealError("truncated")
    nonce, cipher, tag = raw[:_S1_NONCE], raw[_S1_NONCE:-_S1_TAG], raw[-_S1_TAG:]
    for secret in _secrets():
        enc = salted_hmac(f"utils.sealed.enc.{purpose}", "key", secret=secret, algorithm="sha256")
        mac = salted_hmac(f"utils.sealed.mac.{purpose}", "key", secret=secret, algorithm="sha256")
        expected = hmac.new(mac.digest(), _S1_VERSION + nonce + cipher, hashlib.sha256).digest()
        if hmac.compare_digest(expected, tag):
            blocks = (len(cipher) + _S1_BLOCK - 1) // _S1_BLOCK
            stream = b"".join(
                hmac.new(enc.digest(), nonce + n.to_bytes(8, "big"), hashlib.sha256).digest()
                for n in range(blocks)
            )[: len(cipher)]
            plain = int.from_bytes(cipher, "big") ^ int.from_bytes(stream, "big")
            return json.loads(plain.to_bytes(len(cipher), "big"))
    raise UnsealError("no key opens this value (altered, or sealed with a retired key)")
