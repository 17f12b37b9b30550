"""Test data for the catalogue: factory_boy factories, and helpers that build through the
services (``make_*``) so that tests start from valid data with stock in the ledger.

Imported by tests only; never by application code.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import factory
from django.db import transaction
from django.db.models import Sum
from factory.django import DjangoModelFactory

from apps.catalog import services
from apps.catalog.models import Category, Product, Stock, StockMovement, Variant, Warehouse
from apps.catalog.stock import stock_apply, warehouse_default

_counter = itertools.count(1)


class CategoryFactory(DjangoModelFactory[Category]):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"test-category-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class ProductFactory(DjangoModelFactory[Product]):
    class Meta:
        model = Product

    category = factory.SubFactory(CategoryFactory)
    slug = factory.Sequence(lambda n: f"test-product-{n}")
    name = factory.LazyAttribute(lambda o: f"Product {o.slug}")


class VariantFactory(DjangoModelFactory[Variant]):
    """A variant; ``stock=N`` also gives it a stock row with N units received through the
    ledger (``stock=0``: an empty row; left out: no stock row at all)."""

    class Meta:
        model = Variant
        skip_postgeneration_save = True  # the stock hook writes its own rows

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-F{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Variant {o.sku}")
    price = Decimal("10.00")
    currency = "EUR"

    @factory.post_generation
    def stock(obj: Variant, create: bool, extracted: int | None, **kwargs: Any) -> None:
        if not create or extracted is None:
            return
        Stock.objects.get_or_create(
            variant=obj, warehouse=warehouse_default(), defaults={"on_hand": 0}
        )
        if extracted:
            receive(obj, extracted)


def variant_create(
    *,
    sku: str | None = None,
    price: str = "10.00",
    stock: int = 10,
    currency: str = "EUR",
    active: bool = True,
) -> Variant:
    """A variant on sale (in its own product) with ``stock`` units received through the ledger."""
    fields: dict[str, Any] = {"price": Decimal(price), "currency": currency, "is_active": active}
    if sku is not None:
        fields.update(sku=sku, product__slug=sku.lower(), product__name=f"Product {sku}")
    return VariantFactory.create(stock=stock, **fields)


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


def receive(variant: Variant, quantity: int, *, warehouse: Warehouse | None = None) -> None:
    """Receive units through the ledger (default: into the default warehouse)."""
    with transaction.atomic():
        warehouse = warehouse or warehouse_default()
        Stock.objects.get_or_create(variant=variant, warehouse=warehouse, defaults={"on_hand": 0})
        stock_apply(
            changes={(variant.pk, warehouse.pk): quantity}, reason=StockMovement.Reason.RECEIVE
        )


def make_warehouse(
    *, code: str, priority: int = 100, is_active: bool = True, country: str = "DE"
) -> Warehouse:
    return Warehouse.objects.create(
        code=code, name=f"Warehouse {code}", country=country, priority=priority, is_active=is_active
    )


def on_hand(variant: Variant | int, *, warehouse: Warehouse | None = None) -> int:
    """Units on hand of the variant, summed over warehouses (or in one)."""
    variant_id = variant if isinstance(variant, int) else variant.pk
    rows = Stock.objects.filter(variant_id=variant_id)
    if warehouse is not None:
        rows = rows.filter(warehouse=warehouse)
    return int(rows.aggregate(total=Sum("on_hand"))["total"] or 0)


def ledger_sum(variant: Variant | int, *, warehouse: Warehouse | None = None) -> int:
    variant_id = variant if isinstance(variant, int) else variant.pk
    rows = StockMovement.objects.filter(variant_id=variant_id)
    if warehouse is not None:
        rows = rows.filter(warehouse=warehouse)
    return int(rows.aggregate(total=Sum("quantity"))["total"] or 0)
