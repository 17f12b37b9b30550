"""Reads for carts, with the access rule every cart endpoint shares.

A cart that belongs to a user is reachable only by that user; a guest cart
(no user) only by its id. Anything else is a 404, never a 403.

Also here: a cart's lines priced at today's variant prices, with availability
warnings (``cart_detail_get``), read in a fixed number of queries. Writes live
in ``services.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Coalesce

from apps.accounts.models import User
from apps.cart.models import Cart, CartItem
from utils.decimal_utils import line_total, money_sum
from utils.errors import NotFoundError


def cart_access_filter(*, user: User | None) -> Q:
    if user is not None:
        return Q(user__isnull=True) | Q(user=user)
    return Q(user__isnull=True)


def cart_get(*, cart_id: Any, user: User | None, for_update: bool = False) -> Cart:
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


# --- cart contents ------------------------------------------------------------------
# Everything below reads; the totals are computed here, on the server, from the
# current variant prices (a client never sends a price).


class LineWarning(StrEnum):
    """Why a line could not be checked out as it stands."""

    UNAVAILABLE = "unavailable"  # the variant or its product was deactivated
    OUT_OF_STOCK = "out_of_stock"  # nothing on hand
    INSUFFICIENT_STOCK = "insufficient_stock"  # fewer on hand than the line's quantity
    CURRENCY_MISMATCH = "currency_mismatch"  # priced in another currency than the cart


@dataclass(frozen=True)
class CartLine:
    id: int
    variant_id: int
    sku: str
    product_name: str
    product_slug: str
    variant_name: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal
    currency: str
    available: int
    warnings: list[str]


@dataclass(frozen=True)
class CartDetail:
    cart: Cart
    lines: list[CartLine]
    subtotal: Decimal
    item_count: int

    @property
    def id(self) -> uuid.UUID:
        return self.cart.id


def cart_item_list(*, cart: Cart) -> QuerySet[CartItem]:
    """The cart's lines with variant, product and ``available`` (stock on hand) in one query."""
    return (
        CartItem.objects.filter(cart=cart)
        .select_related("variant__product")
        .annotate(available=Coalesce("variant__stock__on_hand", Value(0)))
        .order_by("id")
    )


def cart_line_warnings(*, cart: Cart, item: CartItem, available: int) -> list[str]:
    variant = item.variant
    warnings: list[str] = []
    if not (variant.is_active and variant.product.is_active):
        warnings.append(LineWarning.UNAVAILABLE.value)
    if variant.currency != cart.currency:
        warnings.append(LineWarning.CURRENCY_MISMATCH.value)
    if available <= 0:
        warnings.append(LineWarning.OUT_OF_STOCK.value)
    elif item.quantity > available:
        warnings.append(LineWarning.INSUFFICIENT_STOCK.value)
    return warnings


def cart_detail_build(*, cart: Cart, items: Iterable[CartItem]) -> CartDetail:
    """Price the lines (items from ``cart_item_list``) without another query."""
    lines: list[CartLine] = []
    for item in items:
        variant = item.variant
        available = int(getattr(item, "available", 0))
        lines.append(
            CartLine(
                id=item.pk,
                variant_id=item.variant_id,
                sku=variant.sku,
                product_name=variant.product.name,
                product_slug=variant.product.slug,
                variant_name=variant.name,
                quantity=item.quantity,
                unit_price=variant.price,
                line_total=line_total(variant.price, item.quantity),
                currency=variant.currency,
                available=available,
                warnings=cart_line_warnings(cart=cart, item=item, available=available),
            )
        )
    return CartDetail(
        cart=cart,
        lines=lines,
        subtotal=money_sum(line.line_total for line in lines),
        item_count=sum(line.quantity for line in lines),
    )


def cart_detail_get(*, cart_id: Any, user: User | None) -> CartDetail:
    """The cart and its priced lines, if the caller may reach it (2 queries)."""
    cart = cart_get(cart_id=cart_id, user=user)
    return cart_detail_build(cart=cart, items=cart_item_list(cart=cart))


def cart_open_for_user(*, user: User | None, for_update: bool = False) -> Cart | None:
    """The signed-in user's open cart, if any (there is at most one)."""
    queryset = Cart.objects.filter(user=user, status=Cart.Status.OPEN)
    if for_update:
        queryset = queryset.select_for_update()
    return queryset.first()
