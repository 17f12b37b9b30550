"""Test data for order tests: catalogue rows with stock, carts, a checkout body.

Imported by the orders unit tests and the checkout integration tests (``tests/``);
never by application code. Rows are built with the ORM and the stock ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction

from apps.cart.models import Cart, CartItem
from apps.catalog.models import Category, Product, Stock, Variant
from apps.catalog.stock import stock_apply

CHECKOUT_BODY: dict[str, Any] = {
    "email": "guest@example.com",
    "shipping_address": {
        "name": "Grace Guest",
        "line1": "Hauptstr. 1",
        "line2": "",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "de",
        "phone": "",
    },
    "billing_address": None,
    "shipping_method": "standard",
    "payment": {"provider": "sandbox", "token": "tok_visa"},
}


def checkout_url(cart: Cart | str) -> str:
    cart_id = cart.pk if isinstance(cart, Cart) else cart
    return f"/api/v1/carts/{cart_id}/checkout/"


def variant_create(
    *,
    sku: str,
    price: str = "10.00",
    stock: int = 5,
    currency: str = "EUR",
    active: bool = True,
) -> Variant:
    """A variant on sale with ``stock`` units received through the ledger."""
    category, _ = Category.objects.get_or_create(slug="test", defaults={"name": "Test"})
    product = Product.objects.create(category=category, name=f"Product {sku}", slug=sku.lower())
    variant = Variant.objects.create(
        product=product,
        sku=sku,
        name=f"Size {sku}",
        price=Decimal(price),
        currency=currency,
        is_active=active,
    )
    Stock.objects.create(variant=variant, on_hand=0)
    if stock:
        with transaction.atomic():
            stock_apply(changes={variant.pk: stock}, reason="receive")
    return variant


def cart_create(*, user: Any = None, lines: Sequence[tuple[Variant, int]] = ()) -> Cart:
    cart = Cart.objects.create(user=user, currency="EUR")
    CartItem.objects.bulk_create(
        [CartItem(cart=cart, variant=variant, quantity=quantity) for variant, quantity in lines]
    )
    return cart
