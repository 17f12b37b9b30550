"""Test data for payment tests, built with the ORM (no checkout endpoint needed).

``order_create`` makes what checkout leaves behind: a ``pending_payment`` order
whose lines took stock through the ledger (``sale`` movements) and a ``pending``
payment for its total. ``order_paid`` captures that payment with the sandbox.
What does not belong here: assertions (they live in the tests).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.catalog.models import Category, Product, Stock, StockMovement, Variant
from apps.catalog.stock import stock_apply
from apps.orders.models import Order, OrderLine
from apps.orders.selectors import order_token_hash
from apps.payments.models import Payment
from utils.decimal_utils import line_total, money_sum

ADDRESS = {
    "name": "Ada Buyer",
    "line1": "Hauptstr. 1",
    "line2": "",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
    "phone": "",
}


def variant_create(
    *, sku: str | None = None, price: str = "10.00", on_hand: int = 10, currency: str = "EUR"
) -> Variant:
    """A variant on sale with ``on_hand`` units received through the ledger."""
    sku = sku or f"SKU-{uuid.uuid4().hex[:8].upper()}"
    category, _ = Category.objects.get_or_create(slug="payments-test", defaults={"name": "Test"})
    product = Product.objects.create(category=category, name=f"Product {sku}", slug=sku.lower())
    variant = Variant.objects.create(
        product=product, sku=sku, name=f"Variant {sku}", price=Decimal(price), currency=currency
    )
    Stock.objects.create(variant=variant, on_hand=0)
    if on_hand:
        with transaction.atomic():
            stock_apply(changes={variant.pk: on_hand}, reason=StockMovement.Reason.RECEIVE)
    return variant


def order_create(
    *,
    user: Any = None,
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
        order = Order.objects.create(
            number=f"T-{secrets.token_hex(5).upper()}",
            user=user,
            email=getattr(user, "email", None) or email,
            currency=lines[0][0].currency if lines else "EUR",
            subtotal=subtotal,
            shipping_total=Decimal(shipping),
            total=subtotal + Decimal(shipping),
            shipping_method="standard",
            shipping_address=ADDRESS,
            access_token_hash=order_token_hash(guest_token) if guest_token else "",
            payment_deadline=timezone.now() + deadline,
        )
        OrderLine.objects.bulk_create(
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
            changes={variant.pk: -qty for variant, qty in lines},
            reason=StockMovement.Reason.SALE,
            order=order,
        )
        Payment.objects.create(
            order=order,
            provider=provider,
            payment_method=payment_method,
            amount=order.total,
            currency=order.currency,
        )
    return order


def order_paid(**kwargs: Any) -> Order:
    """``order_create`` with ``tok_visa``, captured by the sandbox: the order is ``paid``."""
    from apps.payments.services import payment_capture

    order = order_create(**kwargs)
    payment_capture(payment_id=str(latest_payment(order).pk))
    order.refresh_from_db()
    return order


def latest_payment(order: Order) -> Payment:
    payment = order.payments.order_by("-created_at").first()
    assert payment is not None, "the order has no payment"
    return payment
