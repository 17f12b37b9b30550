"""Test data for payments (factory_boy): payments, an order as a capture leaves it, and the
sandbox's webhook body about a payment.

Imported by tests only; never by application code.
"""

from __future__ import annotations

from typing import Any

import factory
from factory.django import DjangoModelFactory

from apps.orders.models import Order
from apps.payments.models import Payment


class PaymentFactory(DjangoModelFactory[Payment]):
    """A ``pending`` sandbox payment for its order's total."""

    class Meta:
        model = Payment

    order = factory.SubFactory("apps.orders.factories.OrderFactory")
    provider = "sandbox"
    payment_method = "tok_visa"
    amount = factory.LazyAttribute(lambda o: o.order.total)
    currency = factory.LazyAttribute(lambda o: o.order.currency)


def order_paid(**kwargs: Any) -> Order:
    """``order_create`` with ``tok_visa``, captured by the sandbox: the order is ``paid``."""
    from apps.orders.factories import order_create
    from apps.payments.services import payment_capture

    order = order_create(**kwargs)
    payment_capture(payment_id=str(latest_payment(order).pk))
    order.refresh_from_db()
    return order


def latest_payment(order: Order) -> Payment:
    payment = order.payments.order_by("-created_at").first()
    assert payment is not None, "the order has no payment"
    return payment


def payment_event_body(
    payment: Payment, event_type: str = "payment.succeeded", **data: Any
) -> bytes:
    """The sandbox's webhook body of ``event_type`` about ``payment`` (its id, amount and
    currency, unless ``data`` says otherwise; ``data`` adds ``refund_id``, ``event_id``...)."""
    from apps.payments.providers.sandbox import sandbox_event_body

    values: dict[str, Any] = {
        "payment_id": str(payment.pk),
        "amount": str(payment.amount),
        "currency": payment.currency,
        **data,
    }
    return sandbox_event_body(event_type=event_type, **values)
