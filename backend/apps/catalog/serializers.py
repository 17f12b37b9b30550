"""Catalogue input/output shapes. No business rules here (those are in ``services.py``).

Money goes out as a two-place string through ``utils.decimal_utils``; input
serializers refuse unknown fields and take integers as JSON integers only
(``utils.serializers``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from apps.catalog.models import Category, Product, StockMovement, Variant
from apps.catalog.services import STAFF_STOCK_REASONS
from utils.decimal_utils import to_str
from utils.serializers import InputSerializer, MoneyField, StrictBooleanField, StrictIntegerField

CURRENCY_PATTERN = r"^[A-Z]{3}$"
MAX_ATTRIBUTES = 20


class CategoryRefOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "slug", "name"]
        read_only_fields = fields


class CategoryOutputSerializer(serializers.ModelSerializer):
    parent: serializers.SlugRelatedField[Category] = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="slug", read_only=True, allow_null=True
    )

    class Meta:
        model = Category
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "parent",
            "position",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ParentSlugField(serializers.SlugRelatedField):
    """A category slug or null. DRF reads ``""`` as null on relations; here it is an error."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if data == "":
            self.fail("invalid")
        return super().run_validation(data)


class CategoryInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=200, required=False)
    # DRF pops declared fields off the class, so this does not shadow Field.parent.
    parent = ParentSlugField(  # type: ignore[assignment]
        slug_field="slug", queryset=Category.objects.all(), required=False, allow_null=True
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    position = StrictIntegerField(required=False, min_value=0, max_value=2**31 - 1)
    is_active = StrictBooleanField(required=False)


class VariantOutputSerializer(serializers.ModelSerializer):
    """A variant as customers see it inside a product."""

    # sale_price: set by selectors.product_prices_apply (the promoted unit price)

    price = MoneyField(
        source="sale_price",
        read_only=True,
        help_text="The unit price now: after the best running promotion, as the cart charges.",
    )
    price_undiscounted = MoneyField(
        source="price", read_only=True, help_text="The unit price before any promotion."
    )
    available = serializers.IntegerField(read_only=True, help_text="Units on hand.")
    in_stock = serializers.BooleanField(read_only=True)

    class Meta:
        model = Variant
        fields = [
            "id",
            "sku",
            "name",
            "attributes",
            "price",
            "price_undiscounted",
            "currency",
            "in_stock",
            "available",
            "is_active",
        ]
        read_only_fields = fields


class VariantStaffOutputSerializer(VariantOutputSerializer):
    """A variant on the staff endpoints: its price as entered, its product and timestamps."""

    price = MoneyField(read_only=True, help_text="The unit price as entered (no promotion).")
    product: serializers.SlugRelatedField[Product] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta(VariantOutputSerializer.Meta):
        fields = [
            *(f for f in VariantOutputSerializer.Meta.fields if f != "price_undiscounted"),
            "product",
            "position",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProductOutputSerializer(serializers.ModelSerializer):
    category = CategoryRefOutputSerializer(read_only=True)
    price = MoneyField(
        source="sale_price",
        read_only=True,
        allow_null=True,
        help_text="The lowest price now (after promotions) among the active variants "
        "(null when there are none).",
    )
    price_undiscounted = MoneyField(
        read_only=True,
        allow_null=True,
        help_text="That cheapest variant's price before any promotion.",
    )
    currency = serializers.CharField(source="sale_currency", read_only=True, allow_null=True)
    in_stock = serializers.BooleanField(read_only=True)
    variants = VariantOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "category",
            "price",
            "price_undiscounted",
            "currency",
            "in_stock",
            "is_active",
            "variants",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


def _money(value: Decimal | None) -> str | None:
    return None if value is None else to_str(value)


def product_output(
    row: dict[str, Any], when: Callable[[datetime | None], str | None]
) -> dict[str, Any]:
    """What ``ProductOutputSerializer`` writes for a product, built from its dict row
    (``rows.product_rows``, completed by ``rows.product_rows_complete``) without
    DRF's per-field machinery (``bench/profile.md``, row "product pages from rows");
    ``when`` writes its date-times (``utils.serializers.datetime_formatter``). The stock
    fields are placeholders, in their places, until ``rows.stock_overlay`` sets them.

    The same keys in the same order and the same values: ``test_product_output`` compares
    the pages byte for byte with the serializer's, which stays the OpenAPI description.
    """
    return {
        "id": row["id"],
        "slug": row["slug"],
        "name": row["name"],
        "description": row["description"],
        "category": {
            "id": row["category_id"],
            "slug": row["category__slug"],
            "name": row["category__name"],
        },
        "price": _money(row["sale_price"]),
        "price_undiscounted": _money(row["price_undiscounted"]),
        "currency": row["sale_currency"],
        "in_stock": False,  # the stock: rows.stock_overlay
        "is_active": row["is_active"],
        "variants": [
            {
                "id": variant["id"],
                "sku": variant["sku"],
                "name": variant["name"],
                "attributes": variant["attributes"],
                "price": to_str(variant["sale_price"]),
                "price_undiscounted": to_str(variant["price"]),
                "currency": variant["currency"],
                "in_stock": False,
                "available": 0,
                "is_active": variant["is_active"],
            }
            for variant in row["variants"]
        ],
        "created_at": when(row["created_at"]),
        "updated_at": when(row["updated_at"]),
    }


class ProductInputSerializer(InputSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", queryset=Category.objects.all())
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    is_active = StrictBooleanField(required=False)


class _VariantFieldsInputSerializer(InputSerializer):
    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    price = MoneyField()
    currency = serializers.RegexField(CURRENCY_PATTERN, required=False, max_length=3)
    attributes = serializers.DictField(
        child=serializers.CharField(max_length=200, allow_blank=True), required=False
    )
    position = StrictIntegerField(required=False, min_value=0, max_value=2**31 - 1)
    is_active = StrictBooleanField(required=False)

    def validate_attributes(self, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_ATTRIBUTES:
            raise serializers.ValidationError(f"At most {MAX_ATTRIBUTES} attributes.")
        if any(len(key) > 64 or not key for key in value):
            raise serializers.ValidationError("Attribute names are 1 to 64 characters.")
        return value


class VariantInputSerializer(_VariantFieldsInputSerializer):
    product = serializers.SlugRelatedField(slug_field="slug", queryset=Product.objects.all())


class VariantUpdateInputSerializer(_VariantFieldsInputSerializer):
    """A variant's new values; a variant cannot move to another product."""


class StockAdjustInputSerializer(InputSerializer):
    quantity = StrictIntegerField(
        min_value=-1_000_000,
        max_value=1_000_000,
        help_text="Signed change of the stock on hand; never zero.",
    )
    reason = serializers.ChoiceField(choices=[str(reason) for reason in STAFF_STOCK_REASONS])
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)
    warehouse = StrictIntegerField(
        source="warehouse_id",
        required=False,
        min_value=1,
        help_text="Warehouse id; may be left out only while there is one warehouse.",
    )

    def validate_quantity(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("The quantity must not be zero.")
        return value


class StockThresholdInputSerializer(InputSerializer):
    threshold = StrictIntegerField(
        min_value=0,
        max_value=1_000_000,
        allow_null=True,
        help_text="On hand at or below this is a `stock.low` webhook event; null: no alert.",
    )
    warehouse = StrictIntegerField(
        source="warehouse_id",
        required=False,
        min_value=1,
        help_text="Warehouse id; left out: the threshold is set in every warehouse.",
    )


class StockThresholdOutputSerializer(serializers.Serializer):
    variant_id = serializers.IntegerField()
    warehouse_id = serializers.IntegerField()
    on_hand = serializers.IntegerField()
    low_stock_threshold = serializers.IntegerField(allow_null=True)


class StockMovementOutputSerializer(serializers.ModelSerializer):
    variant_id = serializers.IntegerField(read_only=True)
    warehouse_id = serializers.IntegerField(read_only=True)
    order_id = serializers.UUIDField(read_only=True, allow_null=True)
    actor_email = serializers.EmailField(source="actor.email", read_only=True, allow_null=True)

    class Meta:
        model = StockMovement
        fields = [
            "id",
            "variant_id",
            "warehouse_id",
            "quantity",
            "reason",
            "note",
            "order_id",
            "actor_email",
            "created_at",
        ]
        read_only_fields = fields
