"""The serializer pieces every app shares: strict inputs and the fields with a contract.

Input serializers refuse unknown fields (a typo such as ``quantiy`` must be a
400, not silently ignored) and read-only fields sent by a client (a client
never sets a price, a status or a total). ``MoneyField`` is the only money field
(string in and out, ``Decimal`` inside, through ``utils.decimal_utils``) and
``StrictIntegerField`` the only integer input (a JSON integer, nothing else).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_countries import countries
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from utils.decimal_utils import MoneyError, money_pattern, parse_money, to_str


class StrictInputMixin:
    """Refuse keys that the serializer does not declare as writable, and text sent as
    another JSON type (DRF's ``CharField`` would turn ``0`` or ``1.5`` into ``"0"``)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            fields = self.fields  # type: ignore[attr-defined]
            writable = {name for name, field in fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                raise serializers.ValidationError(
                    {key: ["Unknown or read-only field."] for key in unknown}
                )
            not_text = sorted(
                name
                for name, field in fields.items()
                if name in data and not _text_as_declared(field, data[name])
            )
            if not_text:
                raise serializers.ValidationError(
                    {name: ["Not a valid string."] for name in not_text}
                )
            too_long = {
                name: field.max_length
                for name, field in fields.items()
                if isinstance(field, serializers.CharField)
                and field.max_length is not None
                and isinstance(data.get(name), str)
                and len(data[name]) > field.max_length
            }
            if too_long:
                # As the schema says: the length sent counts, before whitespace is trimmed.
                raise serializers.ValidationError(
                    {
                        name: [f"Ensure this field has no more than {limit} characters."]
                        for name, limit in too_long.items()
                    }
                )
        return super().to_internal_value(data)  # type: ignore[misc]


def _text_as_declared(field: serializers.Field, value: Any) -> bool:
    """False if ``field`` takes text (or a dict or list of it) and ``value`` is another type."""
    if value is None:
        return True  # null is the field's own business (allow_null)
    if isinstance(field, serializers.CharField):
        return isinstance(value, str)
    if isinstance(field, serializers.DictField) and isinstance(value, Mapping):
        return all(_text_as_declared(field.child, item) for item in value.values())
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        return all(_text_as_declared(field.child, item) for item in value)
    return True


class InputSerializer(StrictInputMixin, serializers.Serializer):
    """A plain input serializer that refuses unknown fields."""


def validated_input(
    serializer_class: type[serializers.BaseSerializer], request: Any, **kwargs: Any
) -> dict[str, Any]:
    """``serializer_class(data=request.data, **kwargs)``'s validated data, or its 400."""
    data = serializer_class(data=request.data, **kwargs)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


class MoneyField(serializers.Field):
    """Money: a string with at most two decimals in, a two-place string out, ``Decimal`` inside."""

    default_error_messages = {"invalid": "{message}"}

    def __init__(
        self, *, allow_negative: bool = False, allow_zero: bool = True, **kwargs: Any
    ) -> None:
        self.allow_negative = allow_negative
        self.allow_zero = allow_zero
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str):
            # A client sends text: parse_money takes ints (and Decimals) from trusted code only.
            self.fail("invalid", message='Send money as a string such as "12.50", not a number.')
        try:
            return parse_money(data, allow_negative=self.allow_negative, allow_zero=self.allow_zero)
        except MoneyError as exc:
            self.fail("invalid", message=str(exc))
            raise  # unreachable: fail() raises

    def to_representation(self, value: Decimal) -> str:
        return to_str(Decimal(value))


class MoneyFieldSchema(OpenApiSerializerFieldExtension):
    """The one OpenAPI shape of money, in requests and responses alike."""

    target_class = MoneyField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        negative = bool(getattr(self.target, "allow_negative", False))
        return {
            "type": "string",
            "format": "decimal",
            "pattern": money_pattern(allow_negative=negative),
            "example": "19.99",
        }


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, nothing else: booleans, floats and strings are refused."""

    default_error_messages = {
        **serializers.IntegerField.default_error_messages,
        "strict": "Must be a whole number sent as a JSON integer.",
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("strict")
        return int(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true`` or ``false``, nothing else (DRF's would take ``0``, ``"yes"``, ``"on"``)."""

    default_error_messages = {
        **serializers.BooleanField.default_error_messages,
        "strict": "Must be true or false.",
    }

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("strict")
        return data


class CountryField(serializers.CharField):
    """An ISO 3166-1 alpha-2 country code (django-countries' list), upper-cased."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_length", 2)
        kwargs.setdefault("max_length", 2)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = str(super().to_internal_value(data)).upper()
        if countries.alpha2(value) != value:
            raise serializers.ValidationError("Not an ISO 3166-1 alpha-2 country code.")
        return value


# Output formatting for answers built by hand (``apps/*/output.py``): the same field
# objects the output serializers use, so both write the same strings.
_DATETIME_OUTPUT = serializers.DateTimeField(read_only=True)
_RATE_OUTPUT = serializers.DecimalField(max_digits=5, decimal_places=2, read_only=True)


def datetime_output(value: Any) -> str | None:
    """A date-time as ``serializers.DateTimeField`` writes it (None stays None)."""
    return None if value is None else str(_DATETIME_OUTPUT.to_representation(value))


def datetime_formatter() -> Callable[[datetime | None], str | None]:
    """``datetime_output`` for the many date-times of one answer: the current time zone is
    read once, not per value (a product page has 40; ``bench/profile.md``, row "date-times
    with the zone read once per answer"). The same strings: ISO 8601 in that zone, UTC as
    ``Z``."""
    iso = str(api_settings.DATETIME_FORMAT).lower() == ISO_8601
    zone = timezone.get_current_timezone() if settings.USE_TZ and iso else None

    def output(value: datetime | None) -> str | None:
        if value is None or zone is None or value.tzinfo is None:
            return datetime_output(value)  # naive, or another format: DRF's own rules
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return output


def rate_output(value: Any) -> str:
    """A percentage as a ``DecimalField(5, 2)`` writes it ("19.00")."""
    return str(_RATE_OUTPUT.to_representation(value))
