"""Reads for payments, with the order access rule: owner, staff, or a guest's order token.

A payment the caller may not see is a ``NotFoundError`` (404), never a 403.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.orders.models import Order
from apps.orders.selectors import order_access_filter, order_token_hash
from apps.payments.models import Payment
from utils.errors import NotFoundError


def payment_get_accessible(
    *, payment_id: Any, user: User | None, order_token: str | None = None
) -> Payment:
    """The payment (with its order and refunds) if its order is the caller's, else 404."""
    try:
        payment_uuid = uuid.UUID(str(payment_id))
    except (TypeError, ValueError) as exc:
        raise NotFoundError("Payment not found.") from exc
    queryset: QuerySet[Payment] = Payment.objects.select_related("order").prefetch_related(
        "refunds"
    )
    condition = order_access_filter(user=user, order_token=order_token)
    if condition is not None:
        queryset = queryset.filter(order__in=Order.objects.filter(condition).values("pk"))
    payment = queryset.filter(pk=payment_uuid).first()
    if payment is None:
        raise NotFoundError("Payment not found.")
    return payment


def payment_is_owner(*, payment: Payment, user: User | None, order_token: str | None) -> bool:
    """Whether the caller is the order's customer (not merely staff who may see it)."""
    order = payment.order
    if order.user_id is not None:
        return user is not None and order.user_id == user.pk
    return bool(order_token) and order.access_token_hash == order_token_hash(order_token or "")


def payment_sandbox_get(*, charge_id: str) -> Payment:
    """The sandbox payment of a charge (its bank page), else 404."""
    from apps.payments.providers import get_provider

    get_provider("sandbox")
    payment = Payment.objects.filter(provider="sandbox", provider_reference=charge_id).first()
    if payment is None or not charge_id:
        raise NotFoundError("No sandbox payment waits for this authentication.")
    return payment
