"""Cart input/output shapes. Totals are computed in ``selectors.cart_detail_build``, not here.

Quantities are JSON integers from 1 to ``CART_MAX_QUANTITY_PER_LINE``; a
boolean, a float, a string or an unknown field is a 400 ``validation_error``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.cart.models import Cart
from apps.cart.selectors import CartDetail, LineWarning
from apps.pricing.errors import VOUCHER_ERROR_CODES
from apps.pricing.info import PricedCart
from utils.serializers import CountryField, InputSerializer, MoneyField, StrictIntegerField

MAX_ID = 2**63 - 1


def _quantity_field() -> StrictIntegerField:
    # Built per instance so the bound follows the setting (and tests that override it).
    return StrictIntegerField(min_value=1, max_value=settings.CART_MAX_QUANTITY_PER_LINE)


class CartCreateInputSerializer(InputSerializer):
    """No fields: a cart starts empty, in the shop's default currency."""


class CartVoucherInputSerializer(InputSerializer):
    code = serializers.CharField(max_length=32, help_text="Case-insensitive.")


class CartPricingQuerySerializer(InputSerializer):
    """Optional query of GET /carts/{id}/: price for this destination and method."""

    country = CountryField(required=False, help_text="Tax and shipping destination.")
    shipping_method = serializers.SlugField(max_length=32, required=False)


class ShippingMethodsQuerySerializer(InputSerializer):
    country = CountryField(
        required=False,
        help_text="ISO 3166-1 alpha-2 destination, e.g. DE; default: the shop's country.",
    )


class ShippingOptionOutputSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    zone = serializers.CharField(read_only=True)
    price = MoneyField(read_only=True, help_text="For this cart, after a free-shipping voucher.")
    currency = serializers.CharField(read_only=True)
    min_days = serializers.IntegerField(read_only=True)
    max_days = serializers.IntegerField(read_only=True)


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
    unit_price = MoneyField(
        read_only=True, help_text="Today's unit price, after the best running promotion."
    )
    undiscounted_unit_price = MoneyField(read_only=True, help_text="The catalogue price.")
    discount = MoneyField(read_only=True, help_text="Promotion and voucher, for the line.")
    tax_rate = serializers.DecimalField(
        max_digits=5, decimal_places=2, read_only=True, help_text='Percent, e.g. "19.00".'
    )
    tax = MoneyField(read_only=True, help_text="The tax inside (or on top of) the line total.")
    line_total = MoneyField(read_only=True, help_text="Gross, after discounts.")
    currency = serializers.CharField(read_only=True)
    available = serializers.IntegerField(read_only=True, help_text="Units on hand now.")
    warnings = serializers.ListField(
        child=serializers.ChoiceField(choices=[warning.value for warning in LineWarning]),
        read_only=True,
        help_text="Why this line cannot be checked out as it stands (empty when it can).",
    )


class VoucherErrorOutputSerializer(serializers.Serializer):
    error = serializers.ChoiceField(choices=VOUCHER_ERROR_CODES, source="code", read_only=True)
    message = serializers.CharField(read_only=True)
    details = serializers.DictField(read_only=True)


class CartVoucherOutputSerializer(serializers.Serializer):
    code = serializers.CharField(source="voucher_code", read_only=True)
    applied = serializers.SerializerMethodField()
    problem = VoucherErrorOutputSerializer(
        source="voucher_refusal",
        read_only=True,
        allow_null=True,
        help_text="Why the voucher does not apply now (it is kept; checkout refuses it).",
    )

    def get_applied(self, priced: PricedCart) -> bool:
        return priced.voucher_refusal is None


class CartSummaryOutputSerializer(serializers.Serializer):
    """The totals checkout will charge for this destination and method."""

    subtotal = MoneyField(read_only=True, help_text="Undiscounted lines, as catalogued.")
    discount = MoneyField(read_only=True, help_text="Promotions and voucher.")
    shipping = MoneyField(
        source="shipping_total", read_only=True, help_text="0.00 until a method is chosen."
    )
    tax = MoneyField(read_only=True)
    total = MoneyField(read_only=True)
    currency = serializers.CharField(read_only=True)
    prices_include_tax = serializers.BooleanField(read_only=True)
    tax_country = serializers.CharField(source="country", read_only=True)
    tax_estimated = serializers.BooleanField(
        source="country_is_estimate",
        read_only=True,
        help_text="True: no country given, tax is estimated for the shop's default country.",
    )
    shipping_method = serializers.CharField(
        source="shipping.method_code", read_only=True, allow_null=True, default=None
    )


class CartOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True, help_text="Also the guest token: keep it secret.")
    status = serializers.ChoiceField(
        choices=Cart.Status.choices, source="cart.status", read_only=True
    )
    currency = serializers.CharField(source="cart.currency", read_only=True)
    items = CartLineOutputSerializer(source="lines", many=True, read_only=True)
    subtotal = MoneyField(read_only=True, help_text="The same as summary.subtotal.")
    summary = CartSummaryOutputSerializer(source="priced", read_only=True)
    voucher = serializers.SerializerMethodField()
    item_count = serializers.IntegerField(read_only=True, help_text="Units across all lines.")
    created_at = serializers.DateTimeField(source="cart.created_at", read_only=True)
    updated_at = serializers.DateTimeField(source="cart.updated_at", read_only=True)

    @extend_schema_field(CartVoucherOutputSerializer(allow_null=True))
    def get_voucher(self, detail: CartDetail) -> dict[str, Any] | None:
        if detail.priced.voucher_code is None:
            return None
        return dict(CartVoucherOutputSerializer(detail.priced).data)
