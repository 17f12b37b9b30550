"""django-filter FilterSets for the catalogue list endpoints.

A malformed filter value (bad money, ``in_stock=maybe``, an unknown ordering) is
a 400 ``validation_error``, never silently ignored. The querysets come from
``selectors.py`` with ``price`` and ``in_stock`` already annotated.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.expressions import OrderBy
from drf_spectacular.utils import extend_schema_field

from apps.catalog import selectors
from apps.catalog.models import Product, Variant
from utils.decimal_utils import MoneyError, money_pattern, parse_money


class MoneyFormField(forms.CharField):
    """A query-string amount parsed by ``utils.decimal_utils`` (``"12.50"``)."""

    def clean(self, value: Any) -> Decimal | None:
        text = super().clean(value)
        if text in (None, ""):
            return None
        try:
            return parse_money(text)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from exc


class StrictBooleanFormField(forms.Field):
    """``true``/``false`` (or ``1``/``0``); anything else is an error, not "no filter"."""

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("Must be true or false.", code="invalid")


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": money_pattern(), "example": "12.50"}
)
class MoneyFilter(django_filters.Filter):
    field_class = MoneyFormField


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanFormField


def _is_staff(request: Any) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and getattr(user, "is_staff", False))


class ProductFilter(django_filters.FilterSet):
    ORDERINGS: dict[str, tuple[str | OrderBy, ...]] = {
        "price": (F("price").asc(nulls_last=True), "id"),
        "-price": (F("price").desc(nulls_last=True), "id"),
        "name": ("name", "id"),
        "-created_at": ("-created_at", "-id"),
    }

    search = django_filters.CharFilter(
        method="filter_search",
        max_length=200,
        help_text="Words in the name or description, or part of a SKU.",
    )
    category = django_filters.CharFilter(
        method="filter_category",
        max_length=200,
        help_text="A category slug: products in it or in any category below it.",
    )
    min_price = MoneyFilter(
        field_name="price", lookup_expr="gte", help_text="Lowest variant price at least this."
    )
    max_price = MoneyFilter(
        field_name="price", lookup_expr="lte", help_text="Lowest variant price at most this."
    )
    in_stock = StrictBooleanFilter(
        field_name="in_stock", help_text="Only products with (or without) a variant in stock."
    )
    ordering = django_filters.ChoiceFilter(
        method="filter_ordering",
        choices=[(key, key) for key in ORDERINGS],
        help_text="price is the lowest active variant price.",
    )

    class Meta:
        model = Product
        fields: list[str] = []

    def filter_search(
        self, queryset: QuerySet[Product], name: str, value: str
    ) -> QuerySet[Product]:
        term = value.strip()
        if not term:
            return queryset
        variants = Variant.objects.filter(product=OuterRef("pk"), sku__icontains=term)
        if not _is_staff(self.request):
            variants = variants.filter(is_active=True)
        return queryset.filter(
            Q(name__icontains=term) | Q(description__icontains=term) | Exists(variants)
        )

    def filter_category(
        self, queryset: QuerySet[Product], name: str, value: str
    ) -> QuerySet[Product]:
        subtree = selectors.category_subtree_ids(
            slug=value.strip(), include_inactive=_is_staff(self.request)
        )
        return queryset.filter(category_id__in=subtree)

    def filter_ordering(
        self, queryset: QuerySet[Product], name: str, value: str
    ) -> QuerySet[Product]:
        return queryset.order_by(*self.ORDERINGS[value])


class VariantFilter(django_filters.FilterSet):
    product = django_filters.CharFilter(
        field_name="product__slug", max_length=200, help_text="A product slug."
    )
    is_active = StrictBooleanFilter(field_name="is_active")

    class Meta:
        model = Variant
        fields: list[str] = []
