"""Reads for carts, with the access rule every cart endpoint shares.

A cart that belongs to a user is reachable only by that user; a guest cart
(no user) only by its id. Anything else is a 404, never a 403.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet

from apps.cart.models import Cart
from utils.errors import NotFoundError


def cart_access_filter(*, user: Any) -> Q:
    if user is not None and getattr(user, "is_authenticated", False):
        return Q(user__isnull=True) | Q(user=user)
    return Q(user__isnull=True)


def cart_get(*, cart_id: Any, user: Any, for_update: bool = False) -> Cart:
    """The cart with this id if ``user`` (or an anonymous caller) may reach it, else 404."""
    try:
        cart_uuid = uuid.UUID(str(cart_id))
    except (TypeError, ValueError) as exc:
        raise NotFoundError("Cart not found.") from exc
    queryset: QuerySet[Cart] = Cart.objects.filter(cart_access_filter(user=user))
    if for_update:
        queryset = queryset.select_for_update()
    cart = queryset.filter(pk=cart_uuid).first()
    if cart is None:
        raise NotFoundError("Cart not found.")
    return cart
