"""The orjson renderer writes the bytes DRF's JSONRenderer writes for the API's answers."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers, serializers

from utils.renderers import JSONRenderer
from utils.serializers import MoneyField

UTC = dt.UTC
BERLIN = dt.timezone(dt.timedelta(hours=1))


def drf(data: Any, media_type: str = "application/json") -> bytes:
    return renderers.JSONRenderer().render(data, media_type, {})


def ours(data: Any, media_type: str = "application/json") -> bytes:
    return JSONRenderer().render(data, media_type, {})


ANSWERS = {
    "money and counts": {"total": Decimal("19.99"), "zero": Decimal("0.00"), "quantity": 3},
    "error shape": {"error": "out_of_stock", "details": {"variants": [{"variant_id": 7}]}},
    "times": {
        "utc": dt.datetime(2026, 12, 3, 10, 26, 50, 366824, tzinfo=UTC),
        "utc, whole second": dt.datetime(2026, 12, 3, 10, 26, 50, tzinfo=UTC),
        "offset": dt.datetime(2026, 12, 3, 11, 0, tzinfo=BERLIN),
        "naive": dt.datetime(2026, 12, 3, 11, 0),
        "date": dt.date(2026, 12, 3),
        "time": dt.time(9, 30, 0, 120),
        "duration": dt.timedelta(minutes=30),
    },
    "ids": {"id": uuid.UUID("d2569532-85a2-4f16-b76e-017667911a8a"), "big": 2**63 - 1},
    "text": {
        "name": "Größe \u2013 \u201cXL\u201d \u2713",
        "js": "a\u2028b\u2029c",
        "quote": 'say "hi"\n\t\\',
    },
    "lazy text": {"message": gettext_lazy("This field is required.")},
    "containers": {"tuple": (1, 2), "set": {3}, "nested": [[{"a": None, "b": True}]]},
    "integer keys": {1: "one", 2: {3: "three"}},
    "floats": {"rate": 0.25, "whole": 1.0, "negative": -2.5},
    "bytes": {"raw": b"abc"},
    "list at the top": [1, "two", Decimal("3.00")],
}


@pytest.mark.parametrize("data", ANSWERS.values(), ids=ANSWERS.keys())
def test_the_same_bytes_as_drf(data: Any) -> None:
    assert ours(data) == drf(data)


def test_money_from_a_serializer_stays_a_string_and_utc_is_z() -> None:
    class Answer(serializers.Serializer):
        total = MoneyField()
        at = serializers.DateTimeField()

    data = Answer({"total": Decimal("5.10"), "at": dt.datetime(2026, 1, 2, tzinfo=UTC)}).data
    assert ours(data) == b'{"total":"5.10","at":"2026-01-02T00:00:00Z"}' == drf(data)


def test_nothing_is_an_empty_body() -> None:
    assert ours(None) == b""


@pytest.mark.parametrize(
    "data",
    [{"huge": 2**64}, {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}],
    ids=["integer beyond 64 bits", "deep but legal"],
)
def test_what_orjson_refuses_is_rendered_by_drf(data: Any) -> None:
    assert ours(data) == drf(data)


def test_a_lone_surrogate_fails_as_drf_fails() -> None:
    with pytest.raises(UnicodeEncodeError):
        drf({"s": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        ours({"s": "\ud800"})


def test_an_indented_body_is_drfs() -> None:
    media_type = "application/json; indent=2"
    expected = b'{\n  "a": [\n    1\n  ]\n}'
    assert ours({"a": [1]}, media_type) == drf({"a": [1]}, media_type) == expected


def test_a_type_neither_knows_fails_as_before() -> None:
    with pytest.raises(TypeError):
        drf({"x": object()})
    with pytest.raises(TypeError):
        ours({"x": object()})
