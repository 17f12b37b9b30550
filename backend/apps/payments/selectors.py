"""Reads for payments, with the order access rule: owner, staff, or a guest's order token.

A payment the caller may not see is a ``NotFoundError`` (404), never a 403.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.orders.models import Order
from apps.orders.selectors import order_access_filter
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
