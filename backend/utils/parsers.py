"""The API's only request parser: JSON, strict, and bounded in size."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

from utils.errors import PayloadTooLargeError

# The deepest body the API takes is three levels (checkout -> address -> field); leave room.
MAX_DEPTH = 32


def _encoding(parser_context: Any) -> str:
    """The request's charset; only real text codecs (no bz2/zlib "charsets")."""
    encoding = str((parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET)
    try:
        "".encode(encoding)
    except (LookupError, UnicodeError) as exc:
        raise ParseError(f"Unsupported charset {encoding!r}.") from exc
    return encoding


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class BoundedJSONParser(BaseParser):
    """Parse JSON, reading at most the size limit; refuse NaN/Infinity, NUL and deep nesting."""

    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2**31
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLargeError(details={"limit_bytes": limit})
        encoding = _encoding(parser_context)
        try:
            text = raw.decode(encoding)
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError as exc:  # "[[[[…" a hundred thousand deep: not a server error
            raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep.") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        check_json_structure(data)
        return data


def check_json_structure(value: Any) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` and U+0000 in any string or key.

    Deep nesting would exhaust the stack of whatever serializes the data next (the
    idempotency fingerprint, a JSONField); PostgreSQL text and jsonb cannot hold
    U+0000, so a NUL that slipped past a field would be a 500 instead of a 400.
    Iterative, so the check itself cannot overflow.
    """
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ParseError("JSON strings and keys may not contain NUL (\\u0000).")
        elif isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep.")
            if isinstance(item, dict):
                pending.extend((key, depth) for key in item)
                pending.extend((child, depth + 1) for child in item.values())
            else:
                pending.extend((child, depth + 1) for child in item)
