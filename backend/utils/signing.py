"""Stripe's webhook signing scheme: the sandbox provider verifies it on incoming payment
webhooks, and outbound merchant webhooks (apps.integrations) sign with it.

Header value: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``; several
``v1`` entries may be present (secret rotation). The HMAC is computed over the raw
bytes, so a body changed by one byte, re-encoded or re-serialized fails. A
timestamp more than ``TOLERANCE_SECONDS`` in the past or the future fails too,
which bounds replays. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from utils.errors import InvalidSignatureError

TOLERANCE_SECONDS = 300
SCHEME = "v1"
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


def _digest(*, body: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(*, body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header value a sender puts on ``body`` (for tests, docs and the sandbox)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return f"t={ts},{SCHEME}={_digest(body=body, secret=secret, timestamp=ts)}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise InvalidSignatureError(reason="malformed_header")
        if key == "t":
            if timestamp is not None or not _TIMESTAMP.match(value):
                raise InvalidSignatureError(reason="malformed_header")
            timestamp = int(value)
        elif key == SCHEME:
            if not _HEX_SHA256.match(value):
                raise InvalidSignatureError(reason="malformed_header")
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignatureError(reason="malformed_header")
    return timestamp, signatures


def signature_verify(
    *,
    body: bytes,
    header: str | None,
    secret: str,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Return the signed timestamp, or raise ``InvalidSignatureError`` (details.reason says why)."""
    if not secret:
        # Never accept unsigned events because a deployment forgot its secret.
        raise InvalidSignatureError(reason="secret_not_configured")
    if not header:
        raise InvalidSignatureError(reason="missing_header")
    timestamp, signatures = _parse(header)
    expected = _digest(body=body, secret=secret, timestamp=timestamp)
    matches = [hmac.compare_digest(expected, candidate) for candidate in signatures]
    if not any(matches):
        raise InvalidSignatureError(reason="signature_mismatch")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignatureError(reason="timestamp_out_of_tolerance")
    return timestamp
