"""The JSON parser: bounded in size, and refusing what the database or the stack cannot take."""

from __future__ import annotations

import io

import pytest
from rest_framework.exceptions import ParseError

from utils.parsers import MAX_DEPTH, BoundedJSONParser


def parse(raw: bytes) -> object:
    return BoundedJSONParser().parse(io.BytesIO(raw))


def test_plain_json_is_parsed() -> None:
    assert parse(b'{"a": [1, {"b": "c"}]}') == {"a": [1, {"b": "c"}]}


@pytest.mark.parametrize(
    "raw",
    [b'{"a": "x\\u0000"}', b'{"a\\u0000": 1}', b'[["\\u0000"]]'],
    ids=["value", "key", "list"],
)
def test_nul_anywhere_is_a_parse_error(raw: bytes) -> None:
    """PostgreSQL text cannot hold U+0000: it was a 500 through fields that do not check
    (a slug lookup, a JSON field's keys). Found by schema fuzzing (issue 8)."""
    with pytest.raises(ParseError, match="NUL"):
        parse(raw)


def test_nesting_past_the_recursion_limit_is_a_parse_error_not_a_500() -> None:
    """json.loads raises RecursionError (not ValueError) on "[[[[…": it was a 500."""
    with pytest.raises(ParseError, match="nested"):
        parse(b"[" * 100_000 + b"]" * 100_000)


def test_nesting_deeper_than_the_api_needs_is_refused() -> None:
    parse(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    with pytest.raises(ParseError, match="nested"):
        parse(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
