"""Reads of the public product pages as dict rows: a computed list or detail without model
instances (``bench/profile.md``, row "product pages from rows").

``product_rows`` gives the page's products (the filters and order of
``selectors.product_list``), ``variant_content`` their variants as entered (what
``page_data`` caches by content version), and ``product_rows_complete`` puts them
together with the promoted prices, as ``selectors.product_prices_apply`` sets them on
models. ``serializers.product_output`` renders a completed row without its stock;
``variant_availability`` reads the stock (never cached) and ``stock_overlay`` lays it over
the answers. ``test_product_output.py`` checks the pages byte for byte against
``ProductOutputSerializer``.

What does not belong here: model reads for the staff screens and writes (``selectors``,
``services``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone

from apps.catalog.models import Category, Product, Stock, Variant
from apps.catalog.selectors import available_expression, cheapest_variant, sale_prices
from apps.pricing.info import PromotionInfo

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
    upcoming: tuple[PromotionInfo, ...] | None = None,
    now: datetime | None = None,
) -> datetime | None:
    """Complete product rows (``product_rows``) with their variants' content (``variants``,
    from ``variant_content`` or its cached copy; changed in place) and the promoted
    prices, as ``product_list`` and ``product_prices_apply`` give them on models; the
    stock comes after, on the answers (``stock_overlay``).

    Per variant: the promoted ``sale_price``; per product: ``variants``, ``sale_price``,
    ``price_undiscounted`` and ``sale_currency`` (of the cheapest active variant).
    Returns when the prices may next change. The promotion schedule costs one more query
    unless ``upcoming`` is given.
    """
    pairs = [(row, v) for row in rows for v in variants[row["id"]]]
    sales, next_change = sale_prices(
        [(v["id"], row["id"], row["category_id"], v["price"]) for row, v in pairs],
        now=now or timezone.now(),
        upcoming=upcoming,
    )
    for (_, variant), sale in zip(pairs, sales, strict=True):
        variant["sale_price"] = sale
    for row in rows:
        row["variants"] = variants[row["id"]]
        best = cheapest_variant(
            (v["is_active"], v["sale_price"], v["position"], v["id"], v) for v in row["variants"]
        )
        row["sale_price"] = best["sale_price"] if best else None
        row["price_undiscounted"] = best["price"] if best else None
        row["sale_currency"] = best["currency"] if best else None
    return next_change


def stock_overlay(answers: Iterable[dict[str, Any]], stock: dict[int, tuple[int, bool]]) -> None:
    """Set the stock on product answers (``serializers.product_output``), in place, from
    ``variant_availability``'s (available, on hand somewhere) per variant: per variant
    ``available`` (units on hand over active warehouses) and ``in_stock`` (some
    available); per product ``in_stock``: an active variant on hand in an active
    warehouse, as the ``in_stock`` annotation filters."""
    for answer in answers:
        somewhere = False
        for variant in answer["variants"]:
            available, on_hand = stock.get(variant["id"], (0, False))
            variant["available"], variant["in_stock"] = available, available > 0
            somewhere = somewhere or (variant["is_active"] and on_hand)
        answer["in_stock"] = somewhere
