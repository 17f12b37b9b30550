"""Reads for orders, with the access rule every order endpoint shares.

Owners see their orders, staff see all, and a guest reaches an order only by
presenting its access token (``X-Order-Token``). Anything else is a 404.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.db.models import Q, QuerySet

from apps.orders.models import Order
from utils.errors import NotFoundError


def order_token_hash(token: str) -> str:
    """Only this hash is stored: a database leak does not leak guest order access."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def order_access_filter(*, user: Any, order_token: str | None) -> Q | None:
    """A filter of the orders this caller may see; None means "all" (staff)."""
    if user is not None and getattr(user, "is_staff", False):
        return None
    condition = Q(pk__in=[])
    if user is not None and getattr(user, "is_authenticated", False):
        condition |= Q(user=user)
    if order_token:
        condition |= Q(access_token_hash=order_token_hash(order_token))
    return condition


def order_get_accessible(
    *, order_id: Any, user: Any, order_token: str | None = None, for_update: bool = False
) -> Order:
    """The order if this caller may see it, else ``NotFoundError`` (never 403)."""
    try:
        order_uuid = uuid.UUID(str(order_id))
    except (TypeError, ValueError) as exc:
        raise NotFoundError("Order not found.") from exc
    queryset: QuerySet[Order] = Order.objects.all()
    condition = order_access_filter(user=user, order_token=order_token)
    if condition is not None:
        queryset = queryset.filter(condition)
    if for_update:
        queryset = queryset.select_for_update()
    order = queryset.filter(pk=order_uuid).first()
    if order is None:
        raise NotFoundError("Order not found.")
    return order
