"""The API's JSON renderer: DRF's ``JSONRenderer``, with the encoding done by orjson.

The body is the one DRF's renderer writes for everything the API answers: compact
separators, UTF-8 (not ``\\u`` escapes), U+2028/U+2029 escaped as DRF escapes them.
The types orjson would encode otherwise go to DRF's own ``JSONEncoder.default``:
``datetime``/``date``/``time`` (DRF's ISO form, ``Z`` for UTC), ``Decimal`` (a
number, as DRF writes a raw one; money is a string because ``MoneyField`` makes it
one), lazy strings, sets, querysets, bytes. Whatever orjson refuses (an integer beyond
64 bits, nesting deeper than 255, a lone surrogate) is rendered by DRF's renderer, as
is an indented body (``Accept: application/json; indent=4``).

Two differences, both in floats, which only the ops figures carry (ages and durations
in seconds; money is ``Decimal``, quantities are integers): a NaN or infinity is
``null`` here where DRF's strict renderer fails the request, and a float below 1e-4
reads ``1.5e-7`` where DRF writes ``1.5e-07`` (the same number). Why it is here:
``bench/profile.md``, row "orjson renderer".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

# datetime, date and time go to DRF's encoder (its ISO format, "Z" for UTC); non-string
# keys (ints) become strings as json.dumps makes them.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS
_DRF_DEFAULT = JSONEncoder().default
_LINE_SEPARATOR = "\u2028".encode()
_PARAGRAPH_SEPARATOR = "\u2029".encode()


class JSONRenderer(renderers.JSONRenderer):
    """``rest_framework.renderers.JSONRenderer``'s output, encoded by orjson."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        context = renderer_context or {}
        if (
            self.ensure_ascii
            or not self.compact
            or self.get_indent(accepted_media_type or "", context) is not None
        ):
            return super().render(data, accepted_media_type, context)  # not the API's form
        try:
            body = orjson.dumps(data, default=_DRF_DEFAULT, option=_OPTIONS)
        except orjson.JSONEncodeError:
            # Beyond what orjson takes (or not JSON at all): DRF decides, as before.
            return super().render(data, accepted_media_type, context)
        # As DRF does: these two are valid JSON but end a line in JavaScript.
        return body.replace(_LINE_SEPARATOR, b"\\u2028").replace(_PARAGRAPH_SEPARATOR, b"\\u2029")
