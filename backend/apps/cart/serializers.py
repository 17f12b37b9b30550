"""Cart input/output shapes. Totals are computed in ``selectors.cart_detail_build``, not here.

Quantities are JSON integers from 1 to ``CART_MAX_QUANTITY_PER_LINE``; a
boolean, a float, a string or an unknown field is a 400 ``validation_error``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from apps.cart.models import Cart
from apps.cart.selectors import LineWarning
from utils.serializers import InputSerializer, MoneyField, StrictIntegerField

MAX_ID = 2**63 - 1


def _quantity_field() -> StrictIntegerField:
    # Built per instance so the bound follows the setting (and tests that override it).
    return StrictIntegerField(min_value=1, max_value=settings.CART_MAX_QUANTITY_PER_LINE)


class CartCreateInputSerializer(InputSerializer):
    """No fields: a cart starts empty, in the shop's default currency."""


class CartClaimInputSerializer(InputSerializer):
    """No fields: the cart in the URL is claimed by the signed-in user."""


class CartItemAddInputSerializer(InputSerializer):
    variant_id = StrictIntegerField(min_value=1, max_value=MAX_ID)
    quantity = StrictIntegerField(min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["quantity"] = _quantity_field()


class CartItemUpdateInputSerializer(InputSerializer):
    quantity = StrictIntegerField(min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["quantity"] = _quantity_field()


class CartLineOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True, help_text="The item id used in /items/{id}/.")
    variant_id = serializers.IntegerField(read_only=True)
    sku = serializers.CharField(read_only=True)
    product_name = serializers.CharField(read_only=True)
    product_slug = serializers.CharField(read_only=True)
    variant_name = serializers.CharField(read_only=True)
    quantity = serializers.IntegerField(read_only=True)
    unit_price = MoneyField(read_only=True, help_text="Today's price of the variant.")
    line_total = MoneyField(read_only=True)
    currency = serializers.CharField(read_only=True)
    available = serializers.IntegerField(read_only=True, help_text="Units on hand now.")
    warnings = serializers.ListField(
        child=serializers.ChoiceField(choices=[warning.value for warning in LineWarning]),
        read_only=True,
        help_text="Why this line cannot be checked out as it stands (empty when it can).",
    )


class CartOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True, help_text="Also the guest token: keep it secret.")
    status = serializers.ChoiceField(
        choices=Cart.Status.choices, source="cart.status", read_only=True
    )
    currency = serializers.CharField(source="cart.currency", read_only=True)
    items = CartLineOutputSerializer(source="lines", many=True, read_only=True)
    subtotal = MoneyField(read_only=True)
    item_count = serializers.IntegerField(read_only=True, help_text="Units across all lines.")
    created_at = serializers.DateTimeField(source="cart.created_at", read_only=True)
    updated_at = serializers.DateTimeField(source="cart.updated_at", read_only=True)
