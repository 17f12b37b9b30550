"""Reads for orders, with the access rule every order endpoint shares.

Owners see their orders, staff see all, and a guest reaches an order only by
presenting its access token (``X-Order-Token``). Anything else is a 404.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from rest_framework.request import Request

from apps.accounts.models import User
from apps.orders.models import Fulfilment, FulfilmentLine, Order, OrderEvent
from utils import headers
from utils.errors import NotFoundError


def order_token_hash(token: str) -> str:
    """Only this hash is stored: a database leak does not leak guest order access."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def order_key_owner(request: Request, view_kwargs: Mapping[str, Any]) -> str:
    """The owner of an ``Idempotency-Key`` sent to an order's action (``idempotent(owner=)``):
    a guest's keys belong to its order token, never to whoever knows the order id."""
    if request.user is not None and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"order-token:{order_token_hash(headers.order_token(request) or '')}"


def order_access_filter(*, user: User | None, order_token: str | None) -> Q | None:
    """A filter of the orders this caller may see; None means "all" (staff)."""
    if user is not None and user.is_staff:
        return None
    condition = Q(pk__in=[])
    if user is not None:
        condition |= Q(user=user)
    if order_token:
        condition |= Q(access_token_hash=order_token_hash(order_token))
    return condition


def order_get_accessible(
    *, order_id: Any, user: User | None, order_token: str | None = None, for_update: bool = False
) -> Order:
    """The order if this caller may see it, else ``NotFoundError`` (never 403)."""
    queryset: QuerySet[Order] = Order.objects.all()
    if for_update:
        queryset = queryset.select_for_update()
    return _accessible(queryset, order_id=order_id, user=user, order_token=order_token)


def fulfilment_queryset() -> QuerySet[Fulfilment]:
    """Parcels as their serializer shows them: warehouse joined, lines with their sku."""
    return Fulfilment.objects.select_related("warehouse").prefetch_related(
        Prefetch("lines", queryset=FulfilmentLine.objects.select_related("line"))
    )


def order_detail_prefetch(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """What an order's answer shows: lines, payments and parcels (four queries in all)."""
    return queryset.prefetch_related(
        "lines", "payments", Prefetch("fulfilments", queryset=fulfilment_queryset())
    )


def fulfilment_get(*, order: Order, number: str, detail: bool = True) -> Fulfilment:
    """A parcel of ``order`` by its number (the caller has checked access), else 404;
    with ``detail`` its warehouse and lines too (for its answer)."""
    queryset = fulfilment_queryset() if detail else Fulfilment.objects.all()
    fulfilment = queryset.filter(order=order, number=number).first()
    if fulfilment is None:
        raise NotFoundError("Fulfilment not found.")
    return fulfilment


def order_get_detail(*, order_id: Any, user: User | None, order_token: str | None = None) -> Order:
    """``order_get_accessible`` with the lines, payments and parcels the detail view shows."""
    queryset = order_detail_prefetch(Order.objects.all())
    return _accessible(queryset, order_id=order_id, user=user, order_token=order_token)


def order_list_for_user(*, user: User | None) -> QuerySet[Order]:
    """A signed-in customer's own orders, newest first; every order for staff."""
    queryset: QuerySet[Order] = order_detail_prefetch(Order.objects.all())
    condition = order_access_filter(user=user, order_token=None)
    if condition is not None:
        queryset = queryset.filter(condition)
    return queryset.order_by("-created_at", "-pk")


def order_event_list(*, order: Order) -> QuerySet[OrderEvent]:
    """The order's timeline, oldest first, with each actor."""
    return (
        OrderEvent.objects.filter(order=order).select_related("actor").order_by("created_at", "pk")
    )


def _accessible(
    queryset: QuerySet[Order], *, order_id: Any, user: User | None, order_token: str | None
) -> Order:
    try:
        order_uuid = uuid.UUID(str(order_id))
    except (TypeError, ValueError) as exc:
        raise NotFoundError("Order not found.") from exc
    condition = order_access_filter(user=user, order_token=order_token)
    if condition is not None:
        queryset = queryset.filter(condition)
    order = queryset.filter(pk=order_uuid).first()
    if order is None:
        raise NotFoundError("Order not found.")
    return order
