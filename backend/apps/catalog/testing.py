"""Test helpers: build catalogue rows through the services, so tests start from valid data.

Imported by the catalogue and cart tests; never by application code.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from apps.catalog import services
from apps.catalog.models import Category, Product, Stock, StockMovement, Variant
from apps.catalog.stock import stock_apply

_counter = itertools.count(1)


def make_category(
    slug: str | None = None, *, parent: Category | None = None, is_active: bool = True
) -> Category:
    n = next(_counter)
    slug = slug or f"category-{n}"
    return services.category_create(
        name=slug.replace("-", " ").title(), slug=slug, parent=parent, is_active=is_active
    )


def make_variant(
    *,
    product: Product,
    price: str = "10.00",
    stock: int = 10,
    sku: str | None = None,
    is_active: bool = True,
    currency: str = "EUR",
    position: int = 0,
) -> Variant:
    n = next(_counter)
    variant = services.variant_create(
        product=product,
        sku=sku or f"SKU-{n:05d}",
        name=f"Variant {n}",
        price=Decimal(price),
        currency=currency,
        attributes={"n": str(n)},
        position=position,
        is_active=is_active,
    )
    if stock:
        receive(variant, stock)
    return variant


def make_product(
    slug: str | None = None,
    *,
    category: Category | None = None,
    name: str | None = None,
    description: str = "",
    prices: tuple[str, ...] = ("10.00",),
    stock: int = 10,
    is_active: bool = True,
) -> Product:
    n = next(_counter)
    product = services.product_create(
        category=category or make_category(),
        name=name or f"Product {n}",
        slug=slug or f"product-{n}",
        description=description,
        is_active=is_active,
    )
    for position, price in enumerate(prices):
        make_variant(product=product, price=price, stock=stock, position=position)
    return product


def receive(variant: Variant, quantity: int) -> None:
    with transaction.atomic():
        stock_apply(changes={variant.pk: quantity}, reason=StockMovement.Reason.RECEIVE)


def on_hand(variant: Variant | int) -> int:
    variant_id = variant if isinstance(variant, int) else variant.pk
    return Stock.objects.get(variant_id=variant_id).on_hand


def ledger_sum(variant: Variant | int) -> int:
    variant_id = variant if isinstance(variant, int) else variant.pk
    total = StockMovement.objects.filter(variant_id=variant_id).aggregate(total=Sum("quantity"))
    return int(total["total"] or 0)
