"""Test data for orders: the one checkout body, and orders as checkout leaves them.

``order_create`` makes what checkout leaves behind, built with the ORM and the stock
ledger (no checkout endpoint needed): a ``pending_payment`` order whose lines took
stock (``sale`` movements) and a ``pending`` payment for its total. ``OrderFactory``
makes a bare order row (no lines, no stock) for tests that only need one to exist.
Imported by tests only; never by application code.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import factory
from django.db import transaction
from django.utils import timezone
from factory.django import DjangoModelFactory

from apps.accounts.factories import ADDRESS
from apps.accounts.models import User
from apps.cart.models import Cart
from apps.catalog.factories import variant_create
from apps.catalog.models import StockMovement, Variant
from apps.catalog.stock import at_default, stock_apply, warehouse_default
from apps.orders.models import Allocation, Order, OrderLine
from apps.orders.selectors import order_token_hash
from apps.payments.factories import PaymentFactory
from utils.decimal_utils import line_total, money_sum

CHECKOUT_BODY: dict[str, Any] = {
    "email": "guest@example.com",
    "shipping_address": {**ADDRESS, "country": "de"},  # lower case: the API upper-cases it
    "billing_address": None,
    "shipping_method": "standard",
    "payment": {"provider": "sandbox", "token": "tok_visa"},
}


def checkout_url(cart: Cart | str) -> str:
    cart_id = cart.pk if isinstance(cart, Cart) else cart
    return f"/api/v1/carts/{cart_id}/checkout/"


class OrderFactory(DjangoModelFactory[Order]):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"SO-{n:05d}-{secrets.token_hex(2)}")
    email = "buyer@example.com"
    currency = "EUR"
    subtotal = Decimal("20.00")
    shipping_total = Decimal("0.00")
    total = factory.LazyAttribute(lambda o: o.subtotal + o.shipping_total)
    shipping_method = "standard"
    shipping_address = factory.LazyFunction(lambda: dict(ADDRESS))
    payment_deadline = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=30))


def order_create(
    *,
    user: User | None = None,
    email: str = "buyer@example.com",
    lines: Sequence[tuple[Variant, int]] | None = None,
    payment_method: str = "tok_visa",
    provider: str = "sandbox",
    shipping: str = "2.50",
    guest_token: str | None = None,
    deadline: timedelta = timedelta(minutes=30),
) -> Order:
    """A ``pending_payment`` order with its lines, stock taken and a ``pending`` payment.

    Default lines: one variant at 10.00 x 1 (total 12.50 with shipping).
    """
    lines = lines if lines is not None else [(variant_create(), 1)]
    subtotal = money_sum(line_total(variant.price, qty) for variant, qty in lines)
    with transaction.atomic():
        order = OrderFactory.create(
            user=user,
            email=getattr(user, "email", None) or email,
            currency=lines[0][0].currency if lines else "EUR",
            subtotal=subtotal,
            shipping_total=Decimal(shipping),
            access_token_hash=order_token_hash(guest_token) if guest_token else "",
            payment_deadline=timezone.now() + deadline,
        )
        order_lines = OrderLine.objects.bulk_create(
            [
                OrderLine(
                    order=order,
                    variant=variant,
                    sku=variant.sku,
                    product_name=variant.product.name,
                    variant_name=variant.name,
                    unit_price=variant.price,
                    quantity=qty,
                    line_total=line_total(variant.price, qty),
                )
                for variant, qty in lines
            ]
        )
        stock_apply(
            changes=at_default({variant.pk: -qty for variant, qty in lines}),
            reason=StockMovement.Reason.SALE,
            order=order,
        )
        warehouse = warehouse_default()
        Allocation.objects.bulk_create(
            [
                Allocation(line=line, warehouse=warehouse, quantity=line.quantity)
                for line in order_lines
            ]
        )
        PaymentFactory.create(order=order, provider=provider, payment_method=payment_method)
    return order
