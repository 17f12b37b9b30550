"""Reads for the catalogue: what customers and staff may see, fetched in a fixed number of queries.

Customers see active categories, active products and their active variants;
staff (``include_inactive=True``) see everything. Every product queryset
carries its annotations (``price``: the lowest active variant price,
``currency`` of that variant, ``in_stock``) and prefetches its variants with
``available`` (the stock on hand summed over active warehouses) annotated, so
listing 100 products costs the same number of queries as listing one.

What does not belong here: writes (``services.py``), stock changes (``stock.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.catalog.models import Category, Product, Stock, StockMovement, Variant
from apps.pricing import selectors as pricing
from apps.pricing.calculate import promoted_unit_price
from apps.pricing.info import LineInfo, PromotionInfo
from utils.errors import NotFoundError

_T = TypeVar("_T")

_CATEGORY_TABLE = Category._meta.db_table

# Ids of a category and all of its descendants, however deep, in one query.
# UNION (not UNION ALL) makes the recursion stop even on a cyclic tree. The ORM has
# no recursive CTE; the only interpolated names are our own table's, values are params.
_SUBTREE_SQL = (
    "WITH RECURSIVE subtree(id) AS ("  # noqa: S608
    f"SELECT id FROM {_CATEGORY_TABLE} WHERE slug = %s{{root_filter}} "
    "UNION "
    f"SELECT c.id FROM {_CATEGORY_TABLE} c JOIN subtree s ON c.parent_id = s.id"
    ") SELECT id FROM subtree"
)


def category_list(*, include_inactive: bool = False) -> QuerySet[Category]:
    queryset = Category.objects.select_related("parent")
    if not include_inactive:
        queryset = queryset.filter(is_active=True)
    return queryset.order_by("position", "name", "id")


def category_subtree_ids(*, slug: str, include_inactive: bool = False) -> RawSQL:
    """A subquery of the ids of the category ``slug`` and its descendants.

    Use it as ``filter(category_id__in=category_subtree_ids(...))``: the tree is
    walked by the database (a recursive CTE, on SQLite and PostgreSQL alike),
    not by one query per level. For customers an inactive root matches nothing.
    """
    root_filter = "" if include_inactive else " AND is_active = %s"
    params: list[object] = [slug] if include_inactive else [slug, True]
    return RawSQL(_SUBTREE_SQL.format(root_filter=root_filter), params)  # noqa: S611


def category_ancestor_ids(*, category: Category) -> set[int]:
    """Ids of ``category`` and every category above it (used to refuse a cyclic parent)."""
    seen: set[int] = set()
    parents = dict(Category.objects.values_list("id", "parent_id"))
    current: int | None = category.pk
    while current is not None and current not in seen:
        seen.add(current)
        current = parents.get(current)
    return seen


def available_expression(variant_ref: str = "pk") -> Coalesce:
    """A variant's ``available``: units on hand summed over active warehouses (0 if none).

    A correlated subquery (not a join with GROUP BY), so it composes with other
    annotations and costs no extra query.
    """
    total = (
        Stock.objects.filter(variant_id=OuterRef(variant_ref), warehouse__is_active=True)
        .values("variant_id")
        .annotate(total=Sum("on_hand"))
        .values("total")
    )
    return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))


def variant_queryset(*, include_inactive: bool = False) -> QuerySet[Variant]:
    """Variants with ``available`` (stock on hand over active warehouses, 0 without stock)
    and ``in_stock``."""
    queryset = Variant.objects.annotate(
        available=available_expression(),
    ).annotate(
        in_stock=ExpressionWrapper(Q(available__gt=0), output_field=BooleanField()),
    )
    if not include_inactive:
        queryset = queryset.filter(is_active=True)
    return queryset.order_by("position", "id")


def product_list(*, include_inactive: bool = False) -> QuerySet[Product]:
    """Products with their price annotations and visible variants prefetched (3 queries a page)."""
    active_variants = Variant.objects.filter(product=OuterRef("pk"), is_active=True)
    cheapest = active_variants.order_by("price", "position", "id")
    queryset = (
        Product.objects.select_related("category")
        .annotate(
            price=Subquery(cheapest.values("price")[:1]),
            currency=Subquery(cheapest.values("currency")[:1]),
            in_stock=Exists(
                active_variants.filter(stocks__on_hand__gt=0, stocks__warehouse__is_active=True)
            ),
        )
        .prefetch_related(
            Prefetch("variants", queryset=variant_queryset(include_inactive=include_inactive))
        )
    )
    if not include_inactive:
        queryset = queryset.filter(is_active=True)
    return queryset.order_by("-created_at", "-id")


def sale_prices(
    items: Sequence[tuple[int, int, int, Decimal]],
    *,
    now: datetime,
    upcoming: tuple[PromotionInfo, ...] | None = None,
) -> tuple[list[Decimal], datetime | None]:
    """The promoted unit price of each (variant id, product id, category id, price), and the
    next promotion start or end: one query (the promotion schedule) whatever their number,
    none when ``upcoming`` (``pricing.promotions_upcoming``, read at ``now`` or before) is
    given."""
    if upcoming is None:
        promotions, next_change = pricing.promotions_schedule(now=now)
    else:
        promotions, next_change = pricing.promotions_schedule_at(upcoming, now=now)
    if not promotions:
        return [price for *_, price in items], next_change
    lines = (
        LineInfo(
            line_id=0,
            variant_id=variant_id,
            product_id=product_id,
            category_id=category_id,
            quantity=1,
            unit_price=price,
        )
        for variant_id, product_id, category_id, price in items
    )
    return [promoted_unit_price(line, promotions, now)[0] for line in lines], next_change


def cheapest_variant(candidates: Iterable[tuple[bool, Decimal, int, int, _T]]) -> _T | None:
    """Of (is_active, promoted price, position, id, variant): the active variant with the
    lowest promoted price (ties: position, then id), or None."""
    best: tuple[Decimal, int, int, _T] | None = None
    for active, sale, position, pk, variant in candidates:
        if active and (best is None or (sale, position, pk) < best[:3]):
            best = (sale, position, pk, variant)
    return best[3] if best else None


def product_prices_apply(
    products: Iterable[Product], *, now: datetime | None = None
) -> datetime | None:
    """Set the promoted prices on fetched products (``product_list``) and their prefetched
    variants, in one query whatever their number; returns when they may next change.

    Per variant: ``sale_price`` (after its best single running promotion, the cart's rule:
    ``apps.pricing.calculate.promoted_unit_price``) next to ``price`` (as entered).
    Per product, from its active variants: ``sale_price`` the lowest promoted price,
    ``price_undiscounted`` and ``sale_currency`` of that variant (None without one).
    The ``price`` annotation (filters and ordering) stays the lowest price as entered.
    The return value is the next promotion start or end (None: none is scheduled).
    """
    products = list(products)
    pairs = [(p, v) for p in products for v in p.variants.all()]
    sales, next_change = sale_prices(
        [(v.pk, p.pk, p.category_id, v.price) for p, v in pairs], now=now or timezone.now()
    )
    for (_, variant), sale in zip(pairs, sales, strict=True):
        variant.sale_price = sale  # type: ignore[attr-defined]
    for product in products:
        best = cheapest_variant(
            (v.is_active, v.sale_price, v.position, v.pk, v)  # type: ignore[attr-defined]
            for v in product.variants.all()
        )
        product.sale_price = best.sale_price if best else None  # type: ignore[attr-defined]
        product.price_undiscounted = best.price if best else None  # type: ignore[attr-defined]
        product.sale_currency = best.currency if best else None  # type: ignore[attr-defined]
    return next_change


def product_get(*, slug: str, include_inactive: bool = False) -> Product:
    product = product_list(include_inactive=include_inactive).filter(slug=slug).first()
    if product is None:
        raise NotFoundError("Product not found.")
    return product


def variant_list(*, include_inactive: bool = True) -> QuerySet[Variant]:
    """Variants for staff screens, with their product."""
    return variant_queryset(include_inactive=include_inactive).select_related("product")


def variant_get(*, variant_id: int, include_inactive: bool = True) -> Variant:
    variant = variant_list(include_inactive=include_inactive).filter(pk=variant_id).first()
    if variant is None:
        raise NotFoundError("Variant not found.")
    return variant


def variant_for_cart(*, variant_id: int) -> Variant | None:
    """A variant with its product and ``available``, whatever its state (callers check it).

    Leaner than ``variant_queryset``: no ``in_stock`` and no ordering (one row by key),
    since building and compiling those was a sizeable part of adding to a cart.
    """
    rows = (
        Variant.objects.select_related("product")
        .annotate(available=available_expression())
        .filter(pk=variant_id)[:1]
    )
    return next(iter(rows), None)


def stock_movement_list(*, variant: Variant) -> QuerySet[StockMovement]:
    """The variant's ledger, newest first."""
    return (
        StockMovement.objects.filter(variant=variant)
        .select_related("actor")
        .order_by("-created_at", "-id")
    )
