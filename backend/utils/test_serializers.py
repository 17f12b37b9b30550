"""Input serializers refuse unknown fields and text sent as another JSON type."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework import serializers

from utils.serializers import InputSerializer, datetime_formatter, datetime_output


class _Input(InputSerializer):
    name = serializers.CharField(max_length=20)
    email = serializers.EmailField(required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    attributes = serializers.DictField(child=serializers.CharField(), required=False)
    note = serializers.CharField(required=False, allow_null=True)


@pytest.mark.parametrize(
    "data",
    [
        {"name": 0},
        {"name": 1.5},
        {"name": True},
        {"name": "ok", "email": 7},
        {"name": "ok", "tags": ["a", 1]},
        {"name": "ok", "attributes": {"size": 42}},
    ],
    ids=repr,
)
def test_text_sent_as_a_number_or_boolean_is_refused(data: dict[str, object]) -> None:
    """DRF's CharField turned 0 into "0"; the document says string (issue 8, fuzzing)."""
    checked = _Input(data=data)
    assert not checked.is_valid()
    assert "Not a valid string." in str(checked.errors)


def test_text_and_null_where_allowed_pass() -> None:
    checked = _Input(data={"name": "ok", "tags": ["a"], "attributes": {"s": "M"}, "note": None})
    assert checked.is_valid(), checked.errors


def test_unknown_fields_are_refused_by_name() -> None:
    checked = _Input(data={"name": "ok", "nmae": "typo"})
    assert not checked.is_valid()
    assert checked.errors == {"nmae": ["Unknown or read-only field."]}


def test_the_length_sent_counts_before_whitespace_is_trimmed() -> None:
    # U+001C is whitespace to str.strip(): 2 + 10 characters sent for a limit of 11.
    class Note(InputSerializer):
        note = serializers.CharField(max_length=11)

    too_long = Note(data={"note": "\x1c\x1c" + "x" * 10})
    assert not too_long.is_valid()
    assert too_long.errors["note"] == ["Ensure this field has no more than 11 characters."]
    fits = Note(data={"note": " " + "x" * 10})
    assert fits.is_valid(), fits.errors
    assert fits.validated_data["note"] == "x" * 10


_MOMENTS = [
    None,
    datetime(2026, 12, 4, 18, 30, 5, 123456, tzinfo=UTC),
    datetime(2026, 12, 4, 18, 30, tzinfo=UTC),
    datetime(2026, 7, 1, 9, 0, tzinfo=ZoneInfo("Europe/Paris")),
    datetime(2026, 1, 1, 0, 0, tzinfo=dt_timezone(timedelta(hours=-5, minutes=-30))),
    datetime(2026, 12, 4, 18, 30),  # naive
]


@pytest.mark.parametrize("zone", [None, "Europe/Paris", "America/St_Johns"])
def test_datetime_formatter_writes_what_the_datetime_field_writes(zone: str | None) -> None:
    field = serializers.DateTimeField(read_only=True)
    context = timezone.override(zone) if zone else contextlib.nullcontext()
    with context:
        output = datetime_formatter()
        for moment in _MOMENTS:
            expected = None if moment is None else field.to_representation(moment)
            assert output(moment) == expected == datetime_output(moment)
