"""Query filters for the order list (staff use them to find orders; customers may too)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from apps.orders.models import Order

# Real UTC offsets run from -12:00 to +14:00; PostgreSQL refuses anything past 15:59,
# which ISO 8601 (and Python) allow up to 23:59.
MAX_UTC_OFFSET = timedelta(hours=14)


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time with a real-world UTC offset, handed on in UTC."""

    def clean(self, value: Any) -> datetime | None:
        result = super().clean(value)
        if result is None:
            return None
        offset = result.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise forms.ValidationError("The UTC offset must be within ±14:00.", code="invalid")
        try:
            return result.astimezone(UTC)
        except OverflowError as exc:  # year 1 at +05:00 is year 0 in UTC
            raise forms.ValidationError("Out of range.", code="invalid") from exc


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Order.Status.choices)
    email = django_filters.CharFilter(field_name="email", lookup_expr="iexact")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["status", "email", "created_after", "created_before"]
