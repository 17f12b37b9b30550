"""Sealed values: round trip, nothing readable, tampering, truncation, another purpose and
foreign or retired keys refused; values in the previous format (s1) still open."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from apps.core.models import IdempotencyRecord
from utils.idempotency import StoredResponse, idempotency_begin
from utils.sealed import PREFIX, UnsealError, is_sealed, seal, unseal

BODY = {"id": "a2c1", "access_token": "ord_tok_s3cr3t-value", "total": "19.99", "lines": [1, 2]}
OTHER_KEY = "another-secret-key-0123456789-0123456789-0123456789"


def _raw(token: str) -> bytes:
    assert token.startswith(PREFIX)
    return base64.urlsafe_b64decode(token[len(PREFIX) :])


def _token(raw: bytes, prefix: str = PREFIX) -> str:
    return prefix + base64.urlsafe_b64encode(raw).decode()


def _flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]


def test_round_trip_and_nothing_readable() -> None:
    token = seal(BODY, purpose="p")
    assert token.startswith("sealed:s2:")
    assert is_sealed(token)
    assert "s3cr3t" not in token
    assert "19.99" not in token
    assert unseal(token, purpose="p") == BODY
    assert seal(BODY, purpose="p") != token  # a fresh nonce each time


def test_the_s2_layout_is_a_12_byte_nonce_the_ciphertext_and_a_16_byte_tag() -> None:
    plain = json.dumps(BODY, separators=(",", ":")).encode()
    raws = [_raw(seal(BODY, purpose="p")) for _ in range(2)]
    assert [len(raw) for raw in raws] == [12 + len(plain) + 16] * 2
    assert raws[0][:12] != raws[1][:12]
    assert plain not in raws[0]


@pytest.mark.parametrize("value", [None, 0, "é", [], {"a": "x" * 5000}])
def test_any_json_value(value: Any) -> None:
    assert unseal(seal(value, purpose="p"), purpose="p") == value


@pytest.mark.parametrize("at", [0, 11, 12, 40, -17, -1], ids=lambda at: f"byte{at}")
def test_a_flipped_bit_anywhere_is_refused(at: int) -> None:
    """The nonce (0, 11), the ciphertext (12, 40, the last one: -17) and the tag (-1)."""
    raw = _raw(seal(BODY, purpose="p"))
    with pytest.raises(UnsealError):
        unseal(_token(_flip(raw, at)), purpose="p")


def test_truncated_or_malformed_values_are_refused() -> None:
    token = seal(BODY, purpose="p")
    raw = _raw(token)
    for bad in (
        _token(raw[:-1]),  # one tag byte short
        _token(raw[:-16]),  # no tag at all
        _token(raw[:27]),  # shorter than a nonce and a tag
        _token(raw[12:]),  # no nonce
        token[:-8],
        "sealed:s2:",
        "sealed:s2:é",
        "sealed:s2:@@@@",
        "plain",
        "",
    ):
        with pytest.raises(UnsealError):
            unseal(bad, purpose="p")


def test_another_format_prefix_is_refused_but_still_counts_as_sealed() -> None:
    raw = _raw(seal(BODY, purpose="p"))
    for prefix in ("sealed:s1:", "sealed:s3:", "sealed:"):
        moved = _token(raw, prefix)
        assert is_sealed(moved)  # so a caller never mistakes it for a plain answer
        with pytest.raises(UnsealError):
            unseal(moved, purpose="p")
    assert not is_sealed({"n": 7})
    assert not is_sealed("plain")


def test_another_purpose_is_refused() -> None:
    token = seal(BODY, purpose="p")
    for purpose in ("other", "", "p ", "P"):
        with pytest.raises(UnsealError):
            unseal(token, purpose=purpose)


def test_another_key_is_refused_a_fallback_opens_and_a_retired_key_does_not(
    settings: Any,
) -> None:
    token = seal(BODY, purpose="p")
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = OTHER_KEY
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(UnsealError):
        unseal(token, purpose="p")
    settings.SECRET_KEY_FALLBACKS = ["a-third-key-0123456789-0123456789-0123456789", old_key]
    assert unseal(token, purpose="p") == BODY  # a rotated key still opens older values
    assert unseal(seal(BODY, purpose="p"), purpose="p") == BODY  # new ones: the new key
    fresh = seal(BODY, purpose="p")
    settings.SECRET_KEY_FALLBACKS = []  # the old key retired
    with pytest.raises(UnsealError):
        unseal(token, purpose="p")
    assert unseal(fresh, purpose="p") == BODY


# --- Format s1 (read only). Delete with ``_unseal_s1`` in sealed.py (see there when). ---

# Sealed by the s1 code (commit 24c2621, ``seal`` as it was) under S1_SECRET_KEY for the
# idempotency purpose: what an IdempotencyRecord written before s2 holds.
S1_SECRET_KEY = "s1-fixture-secret-key-0123456789-0123456789-0123456789"
S1_PURPOSE = "idempotency.response"
S1_BODY = {**BODY, "note": "é"}
S1_TOKEN = (
    "sealed:s1:uG6n3UqL3XkmBXUzxkJ67Jh_TE4kr0pRwTjfn7YwWJI2DkLfgC7T3D3P9KwU-23gMD265w"
    "1NMrch5pcFFk2en4fvqSTLDejuMgsVFzmZqULKMVrVNm5TaP8VdmPs7uq-sd1R159xx3Gya40yFX8vQE"
    "sx3MemH9nJRczHITG7-0iq31gh2UpXHXT6akft"
)


def _s1_raw() -> bytes:
    return base64.urlsafe_b64decode(S1_TOKEN[len("sealed:s1:") :])


def test_an_s1_value_still_opens_under_its_key_or_as_a_fallback(settings: Any) -> None:
    settings.SECRET_KEY = S1_SECRET_KEY
    assert is_sealed(S1_TOKEN)
    assert unseal(S1_TOKEN, purpose=S1_PURPOSE) == S1_BODY
    settings.SECRET_KEY = OTHER_KEY
    settings.SECRET_KEY_FALLBACKS = [S1_SECRET_KEY]
    assert unseal(S1_TOKEN, purpose=S1_PURPOSE) == S1_BODY


def test_an_s1_value_tampered_truncated_for_another_purpose_or_retired_is_refused(
    settings: Any,
) -> None:
    settings.SECRET_KEY = S1_SECRET_KEY
    raw = _s1_raw()
    for bad in (
        _token(_flip(raw, 0), "sealed:s1:"),  # nonce
        _token(_flip(raw, 20), "sealed:s1:"),  # ciphertext
        _token(_flip(raw, len(raw) - 1), "sealed:s1:"),  # tag
        _token(raw[:-1], "sealed:s1:"),
        _token(raw[:47], "sealed:s1:"),  # shorter than a nonce and a tag
        _token(raw, "sealed:s2:"),  # an s1 body under the s2 prefix
        "sealed:s1:",
    ):
        with pytest.raises(UnsealError):
            unseal(bad, purpose=S1_PURPOSE)
    with pytest.raises(UnsealError):
        unseal(S1_TOKEN, purpose="other")
    settings.SECRET_KEY = OTHER_KEY  # S1_SECRET_KEY retired: not even a fallback
    with pytest.raises(UnsealError):
        unseal(S1_TOKEN, purpose=S1_PURPOSE)


def _completed(*, response_body: str) -> IdempotencyRecord:
    """A completed record of key ``k`` for ``user:9`` (fingerprint ``f1``), answer 201."""
    return IdempotencyRecord.objects.create(
        owner="user:9",
        key="k",
        request_fingerprint="f1",
        status="completed",
        response_status=201,
        response_body=response_body,
    )


@pytest.mark.django_db
def test_an_idempotent_answer_stored_as_s1_is_replayed(settings: Any) -> None:
    settings.SECRET_KEY = S1_SECRET_KEY
    _completed(response_body=S1_TOKEN)
    assert idempotency_begin(owner="user:9", key="k", fingerprint="f1") == StoredResponse(
        status=201, body=S1_BODY
    )


@pytest.mark.django_db
def test_an_idempotent_answer_in_a_format_no_longer_read_is_released_not_replayed() -> None:
    """What an s1 record becomes once the s1 reader is deleted (or a value from a newer
    release): not replayed as a string; the key is free again."""
    _completed(response_body=_token(b"\x00" * 64, "sealed:s0:"))
    claim = idempotency_begin(owner="user:9", key="k", fingerprint="f1")
    assert isinstance(claim, IdempotencyRecord)
    assert claim.status == IdempotencyRecord.Status.IN_PROGRESS
