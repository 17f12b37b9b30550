"""Reads for carts, with the access rule every cart endpoint shares.

A cart that belongs to a user is reachable only by that user; a guest cart
(no user) only by its id. Anything else is a 404, never a 403.

Also here: a cart's lines priced at today's variant prices, with availability
warnings (``cart_detail_get``), read in a fixed number of queries. Writes live
in ``services.py``.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.models import User
from apps.cart.models import Cart, CartItem
from apps.catalog.selectors import available_expression
from apps.pricing import selectors as pricing
from apps.pricing.calculate import price_cart
from apps.pricing.errors import ShippingUnavailableError
from apps.pricing.info import CartInfo, LineInfo, PricedCart
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
    if not for_update:
        queryset = queryset.select_related("voucher")
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
    unit_price: Decimal  # after the promotion
    undiscounted_unit_price: Decimal
    discount: Decimal  # promotion + voucher, for the whole line
    tax_rate: Decimal
    tax: Decimal
    line_total: Decimal  # gross, after discounts
    currency: str
    available: int
    warnings: list[str]


@dataclass(frozen=True)
class CartDetail:
    cart: Cart
    lines: list[CartLine]
    priced: PricedCart
    item_count: int

    @property
    def id(self) -> uuid.UUID:
        return self.cart.id

    @property
    def subtotal(self) -> Decimal:
        return self.priced.subtotal


@functools.cache
def _lines_with_stock() -> QuerySet[CartItem]:
    """The lines query without its cart, built once per process and cloned by every call.

    Building it (the joins and the ``available`` subquery resolved against the outer
    query) costs about 0.3 ms of CPU; a clone with one more filter about 0.04 ms, and a
    guest order builds it four times. ``bench/profile.md``, row "lines queries built once".
    Never evaluated itself: a clone holds the rows.
    """
    return (
        CartItem.objects.select_related("variant__product__tax_class")
        .only(*LINE_COLUMNS)
        .annotate(available=available_expression("variant_id"))
        .order_by("id")
    )


# What pricing, the warnings, the answer and checkout read of a line: the rest
# (timestamps, a product's description, a variant's attributes) is left in the database
# (``bench/profile.md``, row "lines queries built once").
LINE_COLUMNS = (
    "cart_id",
    "variant_id",
    "quantity",
    "variant__product_id",
    "variant__sku",
    "variant__name",
    "variant__price",
    "variant__currency",
    "variant__weight_grams",
    "variant__is_active",
    "variant__product__name",
    "variant__product__slug",
    "variant__product__is_active",
    "variant__product__category_id",
    "variant__product__tax_class__code",
)


def cart_item_list(*, cart: Cart) -> QuerySet[CartItem]:
    """The cart's lines with variant, product and ``available`` (stock on hand over active
    warehouses) in one query."""
    return _lines_with_stock().filter(cart=cart)


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


def _tax_class_code(item: CartItem) -> str:
    tax_class = item.variant.product.tax_class  # select_related by cart_item_list
    return tax_class.code if tax_class is not None else "standard"


def cart_info_build(
    *, cart: Cart, items: Iterable[CartItem], country: str | None, now: Any
) -> CartInfo:
    """The typed pricing input for these items (from ``cart_item_list``): the running
    promotions and the destination's tax rates are read here (none when the cart is
    empty; a query each only where this process's copy is out of date:
    ``apps.pricing.reference``); without a country, the shop's default country is an
    estimate."""
    items = list(items)
    destination = country or settings.DEFAULT_COUNTRY
    return CartInfo(
        currency=cart.currency,
        lines=tuple(
            LineInfo(
                line_id=item.pk,
                variant_id=item.variant_id,
                product_id=item.variant.product_id,
                category_id=item.variant.product.category_id,
                quantity=item.quantity,
                unit_price=item.variant.price,
                weight_grams=item.variant.weight_grams,
                tax_class=_tax_class_code(item),
            )
            for item in items
        ),
        promotions=pricing.promotions_running(now=now) if items else (),
        tax_rates=pricing.tax_rates_for(country=destination) if items else {},
        prices_include_tax=settings.PRICES_INCLUDE_TAX,
        country=destination,
        country_is_estimate=country is None,
    )


def cart_detail_build(
    *,
    cart: Cart,
    items: Iterable[CartItem],
    country: str | None = None,
    shipping_method: str | None = None,
) -> CartDetail:
    """Price the lines (items from ``cart_item_list``) with ``price_cart``: the promotions,
    tax rates and a named shipping method come from the rule tables (a query each where
    this process's copy is out of date), 1 query for a voucher not already loaded with the
    cart. 409 ``shipping_unavailable`` for a method that does not
    serve the country or the cart."""
    items = list(items)
    now = timezone.now()
    info = cart_info_build(cart=cart, items=items, country=country, now=now)
    method = None
    if shipping_method is not None:
        method = pricing.shipping_method_for(country=info.country, code=shipping_method)
        if method is None:
            raise ShippingUnavailableError(
                details={"shipping_method": shipping_method, "country": info.country}
            )
    voucher = pricing.voucher_info(cart.voucher) if cart.voucher_id and cart.voucher else None
    priced = price_cart(info, method=method, voucher=voucher, now=now)
    lines: list[CartLine] = []
    for item, line in zip(items, priced.lines, strict=True):
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
                unit_price=line.unit_price,
                undiscounted_unit_price=line.undiscounted_unit_price,
                discount=line.discount,
                tax_rate=line.tax_rate,
                tax=line.tax,
                line_total=line.gross,
                currency=variant.currency,
                available=available,
                warnings=cart_line_warnings(cart=cart, item=item, available=available),
            )
        )
    return CartDetail(
        cart=cart, lines=lines, priced=priced, item_count=sum(line.quantity for line in lines)
    )


def cart_detail_get(
    *,
    cart_id: Any,
    user: User | None,
    country: str | None = None,
    shipping_method: str | None = None,
) -> CartDetail:
    """The cart and its priced lines, if the caller may reach it (at most 5 queries)."""
    cart = cart_get(cart_id=cart_id, user=user)
    return cart_detail_build(
        cart=cart,
        items=cart_item_list(cart=cart),
        country=country,
        shipping_method=shipping_method,
    )


@dataclass(frozen=True)
class ShippingOption:
    code: str
    name: str
    zone: str
    price: Decimal
    currency: str
    min_days: int
    max_days: int


def cart_shipping_options(*, cart_id: Any, user: User | None, country: str) -> list[ShippingOption]:
    """The methods that serve ``country`` and this cart's weight and subtotal, each priced
    by ``price_cart`` as checkout would (5 queries, 6 with the caller's user row)."""
    cart = cart_get(cart_id=cart_id, user=user)
    items = list(cart_item_list(cart=cart))
    now = timezone.now()
    info = cart_info_build(cart=cart, items=items, country=country, now=now)
    voucher = pricing.voucher_info(cart.voucher) if cart.voucher is not None else None
    options = []
    for method in pricing.shipping_methods_for(country=country):
        try:
            priced = price_cart(info, method=method, voucher=voucher, now=now)
        except ShippingUnavailableError:
            continue
        assert priced.shipping is not None  # a method was given: price_cart priced it
        options.append(
            ShippingOption(
                code=method.code,
                name=method.name,
                zone=method.zone_name,
                price=priced.shipping.gross,
                currency=cart.currency,
                min_days=method.min_days,
                max_days=method.max_days,
            )
        )
    return options


def cart_open_for_user(*, user: User | None, for_update: bool = False) -> Cart | None:
    """The signed-in user's open cart, if any (there is at most one)."""
    queryset = Cart.objects.filter(user=user, status=Cart.Status.OPEN)
    if for_update:
        queryset = queryset.select_for_update()
    return queryset.first()
