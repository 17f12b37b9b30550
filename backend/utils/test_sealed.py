"""Sealed values: round trip, nothing readable, tampering and foreign keys refused."""

from __future__ import annotations

from typing import Any

import pytest

from utils.sealed import UnsealError, is_sealed, seal, unseal

BODY = {"id": "a2c1", "access_token": "ord_tok_s3cr3t-value", "total": "19.99", "lines": [1, 2]}


def test_round_trip_and_nothing_readable() -> None:
    token = seal(BODY, purpose="p")
    assert is_sealed(token)
    assert "s3cr3t" not in token
    assert "19.99" not in token
    assert unseal(token, purpose="p") == BODY
    assert seal(BODY, purpose="p") != token  # a fresh nonce each time


@pytest.mark.parametrize("value", [None, 0, "é", [], {"a": "x" * 5000}])
def test_any_json_value(value: Any) -> None:
    assert unseal(seal(value, purpose="p"), purpose="p") == value


def test_tampering_another_purpose_or_another_key_is_refused(settings: Any) -> None:
    token = seal(BODY, purpose="p")
    body = token[len("sealed:s1:") :]
    flipped = "sealed:s1:" + body[:20] + ("A" if body[20] != "A" else "B") + body[21:]
    for bad in (flipped, token[:-8], "sealed:s1:", "plain"):
        with pytest.raises(UnsealError):
            unseal(bad, purpose="p")
    with pytest.raises(UnsealError):
        unseal(token, purpose="other")
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "another-secret-key-0123456789-0123456789-0123456789"
    with pytest.raises(UnsealError):
        unseal(token, purpose="p")
    settings.SECRET_KEY_FALLBACKS = [old_key]  # a rotated key still opens older values
    assert unseal(token, purpose="p") == BODY
