"""Base classes for input serializers.

Input serializers refuse unknown fields (a typo such as ``quantiy`` must be a
400, not silently ignored) and read-only fields sent by a client (a client
never sets a price, a status or a total).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from utils.countries import is_country_code


class StrictInputMixin:
    """Refuse keys that the serializer does not declare as writable."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            fields = self.fields  # type: ignore[attr-defined]
            writable = {name for name, field in fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                raise serializers.ValidationError(
                    {key: ["Unknown or read-only field."] for key in unknown}
                )
        return super().to_internal_value(data)  # type: ignore[misc]


class InputSerializer(StrictInputMixin, serializers.Serializer):
    """A plain input serializer that refuses unknown fields."""


class CountryField(serializers.CharField):
    """An ISO 3166-1 alpha-2 country code, upper-cased."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_length", 2)
        kwargs.setdefault("max_length", 2)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = str(super().to_internal_value(data)).upper()
        if not is_country_code(value):
            raise serializers.ValidationError("Not an ISO 3166-1 alpha-2 country code.")
        return value
