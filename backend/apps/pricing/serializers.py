"""Staff shapes for pricing rules: strict inputs (unknown fields, floats for money and
bad countries are 400s), explicit outputs. Cross-row rules live in ``staff.py``."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.pricing.models import (
    DiscountKind,
    Promotion,
    ShippingMethod,
    ShippingZone,
    TaxClass,
    TaxRate,
    Voucher,
)
from utils.serializers import CountryField, InputSerializer, MoneyField, StrictIntegerField

MAX_ID = 2**63 - 1


class StrictDecimalField(serializers.DecimalField):
    """A decimal sent as a string ("19.00"): a JSON number is a binary float, refused."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise serializers.ValidationError('Send this as a string such as "19.00".')
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only (DRF's would take 0, 1, "yes", "on" too)."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError("Must be true or false.")
        return data


def _ids(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID), max_length=500, **kwargs
    )


def _percent(**kwargs: Any) -> serializers.DecimalField:
    return StrictDecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, coerce_to_string=True, **kwargs
    )


class ShippingZoneInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=100)
    countries = serializers.ListField(child=CountryField(), max_length=250, required=False)
    is_rest_of_world = StrictBooleanField(required=False)


class ShippingZoneOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ShippingZone
        fields = ["id", "name", "countries", "is_rest_of_world", "created_at"]
        read_only_fields = fields


class TierInputSerializer(InputSerializer):
    up_to = StrictDecimalField(
        max_digits=12, decimal_places=2, min_value=0, allow_null=True,
        help_text="Inclusive bound: an amount (rule subtotal) or grams (rule weight); null: none.",
    )  # fmt: skip
    price = MoneyField()


class ShippingMethodInputSerializer(InputSerializer):
    zone = StrictIntegerField(min_value=1, max_value=MAX_ID)
    code = serializers.SlugField(max_length=32)
    name = serializers.CharField(max_length=100)
    rule = serializers.ChoiceField(choices=ShippingMethod.Rule.choices, required=False)
    price = MoneyField(required=False)
    tiers = TierInputSerializer(many=True, required=False)
    free_over = MoneyField(required=False, allow_null=True)
    min_days = StrictIntegerField(min_value=0, max_value=365, required=False)
    max_days = StrictIntegerField(min_value=0, max_value=365, required=False)
    is_active = StrictBooleanField(required=False)
    position = StrictIntegerField(min_value=0, max_value=10_000, required=False)


class TierOutputSerializer(serializers.Serializer):
    up_to = serializers.CharField(allow_null=True, read_only=True)
    price = serializers.CharField(read_only=True)


class ShippingMethodOutputSerializer(serializers.ModelSerializer):
    zone = serializers.IntegerField(source="zone_id", read_only=True)
    price = MoneyField(read_only=True)
    free_over = MoneyField(read_only=True, allow_null=True)
    tiers = TierOutputSerializer(many=True, read_only=True)

    class Meta:
        model = ShippingMethod
        fields = [
            "id", "zone", "code", "name", "rule", "price", "tiers", "free_over",
            "min_days", "max_days", "is_active", "position",
        ]  # fmt: skip
        read_only_fields = fields


class TaxClassInputSerializer(InputSerializer):
    code = serializers.SlugField(max_length=32)
    name = serializers.CharField(max_length=100)


class TaxClassOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = TaxClass
        fields = ["id", "code", "name"]
        read_only_fields = fields


class TaxRateInputSerializer(InputSerializer):
    country = CountryField()
    tax_class = serializers.SlugField(max_length=32, help_text="The tax class code.")
    rate = _percent(help_text='Percent as a string: "19.00".')


class TaxRateOutputSerializer(serializers.ModelSerializer):
    tax_class = serializers.CharField(source="tax_class.code", read_only=True)
    rate = _percent(read_only=True)

    class Meta:
        model = TaxRate
        fields = ["id", "country", "tax_class", "rate"]
        read_only_fields = fields


class VoucherInputSerializer(InputSerializer):
    code = serializers.RegexField(r"^[A-Za-z0-9_-]{3,32}$", max_length=32)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=DiscountKind.choices)
    value = StrictDecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False,
        help_text="Percent (percentage, at most 100) or amount off (fixed); 0 for free shipping.",
    )  # fmt: skip
    product_ids = _ids(required=False)
    category_ids = _ids(required=False)
    min_subtotal = MoneyField(required=False, allow_null=True)
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    usage_limit = StrictIntegerField(min_value=1, max_value=10**9, required=False, allow_null=True)
    once_per_customer = StrictBooleanField(required=False)
    is_active = StrictBooleanField(required=False)


class VoucherOutputSerializer(serializers.ModelSerializer):
    value = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    min_subtotal = MoneyField(read_only=True, allow_null=True)

    class Meta:
        model = Voucher
        fields = [
            "id", "code", "name", "kind", "value", "product_ids", "category_ids",
            "min_subtotal", "starts_at", "ends_at", "usage_limit", "used_count",
            "once_per_customer", "is_active", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class PromotionInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=[DiscountKind.PERCENTAGE, DiscountKind.FIXED])
    value = StrictDecimalField(
        max_digits=12, decimal_places=2, min_value=0,
        help_text="Percent off (percentage, at most 100) or amount off each unit (fixed).",
    )  # fmt: skip
    variant_ids = _ids(required=False)
    product_ids = _ids(required=False)
    category_ids = _ids(required=False)
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    is_active = StrictBooleanField(required=False)


class PromotionOutputSerializer(serializers.ModelSerializer):
    value = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = Promotion
        fields = [
            "id", "name", "kind", "value", "variant_ids", "product_ids", "category_ids",
            "starts_at", "ends_at", "is_active", "created_at",
        ]  # fmt: skip
        read_only_fields = fields
