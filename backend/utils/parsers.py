"""The API's only request parser: JSON, strict, and bounded in size."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

from utils.errors import PayloadTooLargeError


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
    """Parse JSON, refusing NaN/Infinity and reading at most the size limit."""

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
            return json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
