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
from datetime import datetime
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


def _list_key(request: Request, kind: str, *, paging: bool) -> str | None:
    """Where something of the list this query asks for is kept: by its parameters (with
    or without the page's); None for a list chosen by stock (``in_stock``: not content)."""
    params = request.query_params
    if "in_stock" in params:
        return None
    query = sorted((name, params.getlist(name)) for name in params if paging or name not in _PAGING)
    return f"catalog:{kind}:" + hashlib.sha256(repr(query).encode()).hexdigest()


def _count_key(request: Request) -> str | None:
    """The list's count: shared by all its pages."""
    return _list_key(request, "count", paging=False)


# Bump when ``StoredPage`` or the answers change shape: during a rolling deploy old and new
# processes share the cache, and each must read only pages of its own format.
_ROWS_FORMAT = 1


def _rows_key(request: Request) -> str | None:
    """One page of the list: its answers (``StoredPage``)."""
    return _list_key(request, f"rows:{_ROWS_FORMAT}", paging=True)


@dataclass(frozen=True)
class StoredPage:
    """A page of the list as computed under one content version: its answers with their
    promoted prices, valid until ``valid_until`` (the next promotion start or end; None:
    none is due), and without their stock, which is laid over them fresh on every page
    (``rows.stock_overlay``)."""

    count: int
    answers: list[dict[str, Any]]
    valid_until: datetime | None

    def valid(self) -> bool:
        return self.valid_until is None or timezone.now() < self.valid_until


@dataclass(frozen=True)
class KnownList:
    version: int | None  # the content version read first (None: store nothing)
    count: int | None  # the list's count under it (None: not stored)
    page: StoredPage | None  # this page under it (None: not stored)


_UNKNOWN = KnownList(None, None, None)


def reads_announce(request: Request) -> None:
    """Let the content version, the list's count and this page ride in the throttle's
    round trip when every list is computed (the response cache off). With it on, a hit
    needs none of them: a miss reads them itself."""
    if not enabled() or settings.CATALOG_CACHE_SECONDS > 0:
        return
    count_key, rows_key = _count_key(request), _rows_key(request)
    if count_key is not None and rows_key is not None:
        batch_reads(request, [VERSION_KEY, count_key, rows_key])


def known_list(request: Request, *, include_inactive: bool) -> KnownList:
    """What is stored of the list this query asks for under the current content version:
    its count and this page (``StoredPage``), and that version (``bench/profile.md``, row
    "list pages kept by content version")."""
    count_key, rows_key = _count_key(request), _rows_key(request)
    if include_inactive or count_key is None or rows_key is None:
        return _UNKNOWN
    if not enabled() or not cache_usable("catalog"):
        return _UNKNOWN
    keys = [VERSION_KEY, count_key, rows_key]
    try:
        found = batched(request, keys) or cache.get_many(keys)
        version = found.get(VERSION_KEY)
        version = catalog_version() if version is None else int(version)
    except Exception as exc:
        cache_failed("catalog", exc)
        return _UNKNOWN
    count, page = found.get(count_key), found.get(rows_key)
    stored = page[1] if isinstance(page, tuple) and page[0] == version else None
    if stored is not None:
        return KnownList(version, stored.count, stored)
    counted = int(count[1]) if isinstance(count, tuple) and count[0] == version else None
    return KnownList(version, counted, None)


def list_store(request: Request, version: int, page: StoredPage) -> None:
    """Keep the list's count and this page under ``version`` (read before either was
    read from the database). Pickled here, so the caller may then change the answers."""
    count_key, rows_key = _count_key(request), _rows_key(request)
    if count_key is None or rows_key is None:
        return
    try:
        cache.set_many(
            {count_key: (version, page.count), rows_key: (version, page)},
            timeout=settings.CATALOG_DATA_CACHE_SECONDS,
        )
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
    then left to ``rows.variant_availability``), else from the database with their
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
