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

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.db import connection
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


def _sale_prices(
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


def _cheapest(candidates: Iterable[tuple[bool, Decimal, int, int, _T]]) -> _T | None:
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
    sales, next_change = _sale_prices(
        [(v.pk, p.pk, p.category_id, v.price) for p, v in pairs], now=now or timezone.now()
    )
    for (_, variant), sale in zip(pairs, sales, strict=True):
        variant.sale_price = sale  # type: ignore[attr-defined]
    for product in products:
        best = _cheapest(
            (v.is_active, v.sale_price, v.position, v.pk, v)  # type: ignore[attr-defined]
            for v in product.variants.all()
        )
        product.sale_price = best.sale_price if best else None  # type: ignore[attr-defined]
        product.price_undiscounted = best.price if best else None  # type: ignore[attr-defined]
        product.sale_currency = best.currency if best else None  # type: ignore[attr-defined]
    return next_change


# Product and variant rows as plain dicts (``values()``): what the public product list and
# detail show, with no model instances built (bench/profile.md, row "product pages from
# rows"). ``serializers.product_output`` renders one; a test checks it against
# ``ProductOutputSerializer`` of the same products.
PRODUCT_ROW_FIELDS = (
    "id",
    "slug",
    "name",
    "description",
    "category_id",
    "category__slug",
    "category__name",
    "is_active",
    "created_at",
    "updated_at",
)
# A variant as entered: what changes only through a catalogue write (``page_data`` caches it).
VARIANT_CONTENT_FIELDS = (
    "id",
    "product_id",
    "sku",
    "name",
    "attributes",
    "price",
    "currency",
    "is_active",
    "position",
)


_CATEGORY_ROW_FIELDS = ("category__slug", "category__name")


@functools.cache
def _product_rows_base(include_inactive: bool, filtered: bool, category: bool) -> QuerySet[Any]:
    # Built once per process and cloned per request: building the annotations' subqueries
    # cost more CPU than running the page query, and a list without a filter parameter
    # needs none of them: its count and page compile to plain SQL (bench/profile.md, row
    # "product pages from rows"). Never evaluated itself, so it holds no rows.
    queryset = Product.objects.all()
    if filtered:
        active_variants = Variant.objects.filter(product=OuterRef("pk"), is_active=True)
        cheapest = active_variants.order_by("price", "position", "id")
        queryset = queryset.annotate(
            price=Subquery(cheapest.values("price")[:1]),
            in_stock=Exists(
                active_variants.filter(stocks__on_hand__gt=0, stocks__warehouse__is_active=True)
            ),
        )
    if not include_inactive:
        queryset = queryset.filter(is_active=True)
    fields = [f for f in PRODUCT_ROW_FIELDS if category or f not in _CATEGORY_ROW_FIELDS]
    return queryset.order_by("-created_at", "-id").values(*fields)


def product_rows(
    *, include_inactive: bool = False, filtered: bool = True, category: bool = True
) -> QuerySet[Any]:
    """``product_list`` as dict rows of ``PRODUCT_ROW_FIELDS``, in its order, without the
    variants (see ``product_rows_complete``). ``filtered``: with the ``price`` and
    ``in_stock`` annotations the filters use (False: for a list that has no filter).
    ``category=False``: without the category's slug and name (no join; the caller has
    them: ``category_refs``)."""
    return _product_rows_base(include_inactive, filtered, category).all()


def category_refs(category_ids: Iterable[int] | None = None) -> dict[int, tuple[str, str]]:
    """(slug, name) of each category id (None: of every category), in one query."""
    rows = Category.objects.all()
    if category_ids is not None:
        rows = rows.filter(id__in=set(category_ids))
    return {pk: (slug, name) for pk, slug, name in rows.values_list("id", "slug", "name")}


def variant_content(
    product_ids: Iterable[int], *, include_inactive: bool = False
) -> tuple[dict[int, list[dict[str, Any]]], dict[int, tuple[int, bool]]]:
    """Each product's visible variants as entered (``VARIANT_CONTENT_FIELDS``), in page
    order (position, id), every product id a key; and their stock as
    ``variant_availability`` gives it: one query."""
    by_product: dict[int, list[dict[str, Any]]] = {pk: [] for pk in product_ids}
    stock: dict[int, tuple[int, bool]] = {}
    if by_product:
        variants = Variant.objects.filter(product_id__in=list(by_product))
        if not include_inactive:
            variants = variants.filter(is_active=True)
        on_hand = Stock.objects.filter(
            variant_id=OuterRef("pk"), warehouse__is_active=True, on_hand__gt=0
        )
        rows = (
            variants.annotate(available=available_expression(), somewhere=Exists(on_hand))
            .order_by("position", "id")
            .values(*VARIANT_CONTENT_FIELDS, "available", "somewhere")
        )
        for variant in rows:
            stock[variant["id"]] = (variant.pop("available"), variant.pop("somewhere"))
            by_product[variant["product_id"]].append(variant)
    return by_product, stock


_STOCK_TABLE = Stock._meta.db_table
_WAREHOUSE_TABLE = Stock._meta.get_field("warehouse").related_model._meta.db_table  # type: ignore[union-attr]
_VARIANT_TABLE = Variant._meta.db_table

# The availability overlay of a computed page, in plain SQL: the ORM spent ten times the
# CPU of running it on building it (bench/profile.md, row "availability overlay in one
# statement"). ``available_expression`` is the same sum; only our table names are
# interpolated, values are parameters.
_AVAILABILITY_SQL = (
    "SELECT s.variant_id, SUM(s.on_hand), MAX(s.on_hand) "  # noqa: S608
    f"FROM {_STOCK_TABLE} s "
    f"JOIN {_WAREHOUSE_TABLE} w ON w.id = s.warehouse_id "
    f"JOIN {_VARIANT_TABLE} v ON v.id = s.variant_id "
    "WHERE w.is_active = %s AND v.product_id IN ({products}){active} "
    "GROUP BY s.variant_id"
)


def variant_availability(
    product_ids: Sequence[int], *, include_inactive: bool = False
) -> dict[int, tuple[int, bool]]:
    """Per visible variant of these products: (``available``, the units on hand summed
    over active warehouses; whether one active warehouse has some on hand), in one query.
    Variants without stock rows are missing (0, False). By product id, not variant id:
    a page has a third as many, so psycopg can reuse its parsed statement (it parses
    statements of more than 50 parameters anew each time)."""
    if not product_ids:
        return {}
    sql = _AVAILABILITY_SQL.format(
        products=", ".join(["%s"] * len(product_ids)),
        active="" if include_inactive else " AND v.is_active = %s",
    )
    params: list[int | bool] = [True, *product_ids] + ([] if include_inactive else [True])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {vid: (int(total), top > 0) for vid, total, top in cursor.fetchall()}


def product_rows_complete(
    rows: Sequence[dict[str, Any]],
    *,
    variants: dict[int, list[dict[str, Any]]],
    stock: dict[int, tuple[int, bool]] | None = None,
    upcoming: tuple[PromotionInfo, ...] | None = None,
    include_inactive: bool = False,
    now: datetime | None = None,
) -> datetime | None:
    """Complete product rows (``product_rows``) with their variants' content (``variants``,
    from ``variant_content`` or its cached copy; changed in place) and their stock (as
    ``variant_content`` read it, or one query), as ``product_list`` and
    ``product_prices_apply`` give them on models.

    Per variant: ``available``, ``in_stock`` and the promoted ``sale_price``; per product:
    ``variants``, ``in_stock`` (an active variant on hand in an active warehouse: the
    ``in_stock`` annotation), ``sale_price``, ``price_undiscounted`` and ``sale_currency``.
    Returns when the prices may next change. The promotion schedule costs one more query
    unless ``upcoming`` is given.
    """
    if stock is None:
        stock = variant_availability([row["id"] for row in rows], include_inactive=include_inactive)
    pairs = [(row, v) for row in rows for v in variants[row["id"]]]
    sales, next_change = _sale_prices(
        [(v["id"], row["id"], row["category_id"], v["price"]) for row, v in pairs],
        now=now or timezone.now(),
        upcoming=upcoming,
    )
    for (_, variant), sale in zip(pairs, sales, strict=True):
        variant["available"], variant["on_hand_somewhere"] = stock.get(variant["id"], (0, False))
        variant["in_stock"] = variant["available"] > 0
        variant["sale_price"] = sale
    for row in rows:
        row["variants"] = variants[row["id"]]
        row["in_stock"] = any(v["is_active"] and v["on_hand_somewhere"] for v in row["variants"])
        best = _cheapest(
            (v["is_active"], v["sale_price"], v["position"], v["id"], v) for v in row["variants"]
        )
        row["sale_price"] = best["sale_price"] if best else None
        row["price_undiscounted"] = best["price"] if best else None
        row["sale_currency"] = best["currency"] if best else None
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
