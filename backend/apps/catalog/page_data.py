"""Catalogue content for computed product pages, cached by content version; stock read fresh.

A computed page (a response-cache miss, or the response cache off) is made of parts that
change at different rates:

- which products, in which order (the filters): the page query, every time; how many:
  the count query, or the count stored under the content version for the same filter
  parameters (not for ``in_stock``, which depends on stock);
- each product's variants as entered (sku, name, attributes, price, ...) and the
  promotions not yet ended: they change only through a catalogue write, which bumps the
  content version (``cache.catalog_changed()``). They are cached here under that version
  (``catalog:pv:<version>:<product id>``, ``catalog:promos:<version>``), so a page whose
  products were shown before under the same version reads them in one ``MGET``;
- availability (stock on hand over active warehouses): never cached, one query per page
  (the "availability overlay"), so a checkout never has to invalidate anything here.

Freshness: stock is as fresh as the database. Content is stored under the version read
*before* it was read from the database (the response cache's rule), so an entry is never
older than its version, and it lives at most ``CATALOG_DATA_CACHE_SECONDS`` (default 2 s:
the documented worst case when a bump fails, as for the response cache). The promotions'
clock (starts and ends) is applied when the page is computed, never cached.

The cache fails open: when it is down the content is read from the database. A miss is
filled by the request that found it (two requests may both fill it: the same rows, no lock
needed); the response cache's single flight still guards whole pages.
Staff see inactive variants and are never served from here.

``bench/profile.md``, row "catalogue content cached by version".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework.request import Request

from apps.catalog import rows
from apps.catalog.cache import VERSION_KEY, catalog_version
from apps.pricing import selectors as pricing
from apps.pricing.info import PromotionInfo
from utils.cache_guard import cache_failed, cache_usable
from utils.redis_batch import batch_reads, batched


@dataclass(frozen=True)
class PageContent:
    variants: dict[int, list[dict[str, Any]]]  # product id -> its variants as entered
    upcoming: tuple[PromotionInfo, ...]  # pricing.promotions_upcoming
    stock: dict[int, tuple[int, bool]] | None  # read with the variants (None: read it)
    categories: dict[int, tuple[str, str]] | None = None  # id -> (slug, name), if asked


def serves(request: Request, *, include_inactive: bool) -> bool:
    """Whether ``page_content`` may be asked for the categories too: then the page query
    need not join them (``bench/profile.md``, row "catalogue content cached by version":
    compiling that join was a tenth of a computed page)."""
    return not include_inactive and enabled() and cache_usable("catalog")


def enabled() -> bool:
    return settings.CATALOG_DATA_CACHE_SECONDS > 0


def _from_database(
    product_ids: list[int], include_inactive: bool, category_ids: list[int] | None
) -> PageContent:
    variants, stock = rows.variant_content(product_ids, include_inactive=include_inactive)
    return PageContent(
        variants=variants,
        upcoming=pricing.promotions_upcoming(now=timezone.now()),
        stock=stock,
        categories=rows.category_refs(category_ids) if category_ids else None,
    )


_PAGING = ("page", "page_size")


def _count_key(request: Request) -> str | None:
    """Where the count of the list this query asks for is kept: by its parameters but the
    page's; None for a list chosen by stock (``in_stock``: not content)."""
    params = request.query_params
    if "in_stock" in params:
        return None
    query = sorted((name, params.getlist(name)) for name in params if name not in _PAGING)
    return "catalog:count:" + hashlib.sha256(repr(query).encode()).hexdigest()


def reads_announce(request: Request) -> None:
    """Let the content version and the list's count ride in the throttle's round trip when
    every list is computed (the response cache off). With it on, a hit needs neither: a
    miss reads them itself."""
    key = _count_key(request) if enabled() and settings.CATALOG_CACHE_SECONDS <= 0 else None
    if key is not None:
        batch_reads(request, [VERSION_KEY, key])


def known_count(request: Request, *, include_inactive: bool) -> tuple[int | None, int | None]:
    """The count of the products this list query matches, as stored under the current
    content version (None: not stored), and that version (None: do not store)."""
    key = _count_key(request)
    if include_inactive or key is None or not enabled() or not cache_usable("catalog"):
        return None, None
    try:
        found = batched(request, [VERSION_KEY, key]) or cache.get_many([VERSION_KEY, key])
        version = found.get(VERSION_KEY)
        version = catalog_version() if version is None else int(version)
    except Exception as exc:
        cache_failed("catalog", exc)
        return None, None
    entry = found.get(key)
    if isinstance(entry, tuple) and entry[0] == version:
        return int(entry[1]), version
    return None, version


def count_store(request: Request, count: int, version: int) -> None:
    """Keep ``count`` as the list's under ``version`` (read before it was counted)."""
    key = _count_key(request)
    if key is None:
        return
    try:
        cache.set(key, (version, count), timeout=settings.CATALOG_DATA_CACHE_SECONDS)
    except Exception as exc:
        cache_failed("catalog", exc)


def _version(request: Request) -> int:
    found = batched(request, [VERSION_KEY])  # read in the throttle's round trip
    version = found.get(VERSION_KEY) if found is not None else cache.get(VERSION_KEY)
    return catalog_version() if version is None else int(version)


def page_content(
    request: Request,
    product_ids: list[int],
    *,
    include_inactive: bool,
    category_ids: list[int] | None = None,
) -> PageContent:
    """The variants (as entered) of ``product_ids`` and the promotions not yet ended: from
    the cache under the current content version when it has all of them (the stock is
    then left to ``rows.product_rows_complete``), else from the database with their
    stock, in one query (and then stored). With ``category_ids``, the (slug, name) of
    those categories too (cached with the rest)."""
    if include_inactive or not enabled() or not cache_usable("catalog"):
        return _from_database(product_ids, include_inactive, category_ids)
    try:
        version = _version(request)
        keys = {pk: f"catalog:pv:{version}:{pk}" for pk in product_ids}
        promos_key = f"catalog:promos:{version}"
        categories_key = f"catalog:categories:{version}"
        wanted = [*keys.values(), promos_key]
        found = cache.get_many([*wanted, categories_key] if category_ids else wanted)
    except Exception as exc:
        cache_failed("catalog", exc)
        return _from_database(product_ids, False, category_ids)
    stored: dict[str, Any] = {}
    categories = None
    if category_ids:  # all of them: a shop has a few hundred at most
        categories = found.get(categories_key)
        if categories is None or not set(category_ids) <= categories.keys():
            categories = rows.category_refs()
            stored[categories_key] = categories
    upcoming = found.get(promos_key)
    if upcoming is None:
        upcoming = pricing.promotions_upcoming(now=timezone.now())
        stored[promos_key] = upcoming
    stock = None
    if all(key in found for key in keys.values()):
        variants = {pk: found[key] for pk, key in keys.items()}
    else:  # one query for the page whatever it misses: the same as with no cache
        variants, stock = rows.variant_content(product_ids)
        stored.update({keys[pk]: rows for pk, rows in variants.items()})
    if stored:
        try:  # now: the page then changes these rows in place (stock, prices)
            cache.set_many(stored, timeout=settings.CATALOG_DATA_CACHE_SECONDS)
        except Exception as exc:
            cache_failed("catalog", exc)
    return PageContent(variants=variants, upcoming=upcoming, stock=stock, categories=categories)
