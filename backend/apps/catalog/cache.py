"""A short-lived cache of public catalogue responses that is never staler than a commit.

Two kinds of change, two kinds of version, so that buying does not empty every page:

- Catalogue writes (categories, products, variants, promotions) call
  ``catalog_changed()``: it bumps the content version (``VERSION_KEY``) right after the
  transaction commits, and every entry computed under an older one is ignored.
- Stock changes call ``catalog_changed(variant_ids=...)``: after the commit it bumps the
  stock sequence (``STOCK_SEQ_KEY``) and then sets a fresh version on each changed
  variant (``catalog:sv:<id>``). An entry records the stock sequence and the versions
  of the variants it shows. A hit under the same stock sequence is served as it is (no
  stock change committed since); after a change it compares the variants' versions (a
  second ``MGET``, of those keys only): a checkout invalidates only the pages that show
  a variant it bought. A page whose membership depends on stock (``?in_stock=``) is
  gone after any stock change.

Freshness: the content version and the stock sequence are read before the page is
computed, the variant versions after it; an entry is stored only if the stock sequence
did not move in between (sequence first, variant keys second, so a change that committed
during the computation is always seen), so a stored entry is never older than the last
committed change of what it shows. If a bump fails (cache down), entries still expire
after ``CATALOG_CACHE_SECONDS`` (default 2 s): the documented worst-case staleness.

No stampede: on a miss one request per page (a short ``cache.add`` lock) computes and
stores; the others wait up to ``SINGLE_FLIGHT_WAIT_SECONDS`` for its entry, then
compute for themselves without storing.

Prices carry promotions, which start and end by the clock rather than by a write: the
view sets ``valid_until`` on the computed response (the next promotion start or end,
``selectors.product_prices_apply``) and the entry lives no longer than that; a
promotion written or deleted by staff bumps the content version.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import Counter
from rest_framework.request import Request
from rest_framework.response import Response

from utils.cache_guard import cache_failed, cache_usable
from utils.cache_versions import version_bump, version_new, version_read
from utils.redis_batch import batch_reads, batched

logger = logging.getLogger(__name__)

VERSION_KEY = "catalog:version"
STOCK_SEQ_KEY = "catalog:stock"
SINGLE_FLIGHT_WAIT_SECONDS = 0.25
_LOCK_SECONDS = 5  # a computing request that died frees its page after this

CACHE_LOOKUPS = Counter(
    "storefront_catalog_cache_lookups",
    "Catalogue response cache lookups: hit (served from the cache), miss (computed and "
    "stored) or unavailable (the cache could not be read: computed, not stored).",
    ["result"],
)


def _count(result: str) -> None:
    try:
        CACHE_LOOKUPS.labels(result).inc()
    except Exception:  # telemetry never fails a request
        logger.warning("could not count a catalogue cache lookup", exc_info=True)


def _variant_key(variant_id: int) -> str:
    return f"catalog:sv:{variant_id}"


def catalog_version() -> int:
    return version_read(VERSION_KEY)


def _bump_content() -> None:
    try:
        version_bump(VERSION_KEY)
    except Exception as exc:
        cache_failed("catalog", exc)  # entries expire on their own (CATALOG_CACHE_SECONDS)


def _bump_stock(variant_ids: frozenset[int]) -> None:
    try:
        version_bump(STOCK_SEQ_KEY)  # first: a computation in flight sees it and stores nothing
        fresh = version_new()
        cache.set_many({_variant_key(vid): fresh for vid in variant_ids}, timeout=None)
    except Exception as exc:
        cache_failed("catalog", exc)


def catalog_changed(*, variant_ids: Iterable[int] | None = None) -> None:
    """Invalidate cached catalogue responses once the current transaction commits: all of
    them, or with ``variant_ids`` (a stock change) those that show one of these variants."""
    if variant_ids is None:
        transaction.on_commit(_bump_content, robust=True)
        return
    ids = frozenset(int(vid) for vid in variant_ids)
    transaction.on_commit(lambda: _bump_stock(ids), robust=True)


# Bump when ``_Entry`` changes shape: during a rolling deploy old and new processes share
# the cache, and each must read only entries of its own format.
_PAGE_FORMAT = 2


def _page_key(request: Request) -> str:
    # Scheme and Host header as sent, since the body holds absolute links (the Host was
    # already checked against ALLOWED_HOSTS by CommonMiddleware, before any view).
    meta = request.META
    host, path = meta.get("HTTP_HOST", ""), meta.get("PATH_INFO", "")
    uri = f"{request.scheme}://{host}{path}?{meta.get('QUERY_STRING', '')}"
    return f"catalog:page:{_PAGE_FORMAT}:" + hashlib.sha256(uri.encode()).hexdigest()


def catalog_reads_announce(request: Request) -> None:
    """Announce this request's three keys, so that they ride in the request's first Redis
    round trip (``utils.redis_batch``; ``bench/profile.md``, row "catalogue read in the
    throttle's round trip"). Call before the throttles run."""
    if settings.CATALOG_CACHE_SECONDS > 0:
        batch_reads(request, [VERSION_KEY, STOCK_SEQ_KEY, _page_key(request)])
    elif settings.CATALOG_DATA_CACHE_SECONDS > 0:  # apps.catalog.page_data keys by version
        batch_reads(request, [VERSION_KEY])


def _entry_ttl(ttl: float, valid_until: datetime | None) -> float:
    """``ttl`` seconds, cut to the whole seconds left before ``valid_until`` (0: do not store)."""
    if valid_until is None:
        return ttl
    left = (valid_until - timezone.now()).total_seconds()
    return max(0, min(ttl, math.floor(left)))


@dataclass(frozen=True)
class _Entry:
    version: int  # the content version it was computed under
    stock_seq: int | None  # the stock sequence it was computed and stored under
    by_stock: bool  # its rows are chosen by stock: any stock change invalidates it
    variants: tuple[tuple[int, int | None], ...]  # (variant id, its stock version)
    body: bytes


def _still_valid(entry: object, version: int, stock_seq: int) -> bool:
    """Whether a cached entry may be served now. While no stock change was committed since
    it was stored (the stock sequence has not moved) nothing more is read; after one, an
    entry chosen by stock is gone and any other costs one ``MGET`` of its variants'
    versions (``bench/profile.md``, row "a hit reads the variant versions only after a
    stock change")."""
    if not isinstance(entry, _Entry) or entry.version != version:
        return False
    if entry.stock_seq == stock_seq:
        return True
    if entry.by_stock:
        return False
    if not entry.variants:
        return True
    current = cache.get_many([_variant_key(vid) for vid, _ in entry.variants])
    return all(current.get(_variant_key(vid)) == seen for vid, seen in entry.variants)


def _render(request: Request, response: Response) -> None:
    response.accepted_renderer = request.accepted_renderer
    response.accepted_media_type = request.accepted_media_type
    response.renderer_context = {"request": request, "response": response}  # type: ignore[attr-defined]
    response.render()


def _store(request: Request, key: str, response: Response, version: int, stock_seq: int) -> None:
    """Store the computed 200 under the versions read before computing it, unless stock
    changed meanwhile or a promotion boundary is under a second away."""
    timeout = _entry_ttl(settings.CATALOG_CACHE_SECONDS, getattr(response, "valid_until", None))
    if timeout <= 0:
        return
    variant_ids = sorted(set(getattr(response, "variant_ids", ())))
    depends_on_stock = bool(getattr(response, "depends_on_stock", False))
    keys = [STOCK_SEQ_KEY, *(_variant_key(vid) for vid in variant_ids)]
    current = cache.get_many(keys)
    if current.get(STOCK_SEQ_KEY) != stock_seq:
        return  # a stock change committed while computing: this page may already be old
    entry = _Entry(
        version=version,
        stock_seq=stock_seq,
        by_stock=depends_on_stock,
        variants=()
        if depends_on_stock
        else tuple((vid, current.get(_variant_key(vid))) for vid in variant_ids),
        body=response.content,
    )
    cache.set(key, entry, timeout=timeout)


def cached_catalog_response(request: Request, compute: Callable[[], Response]) -> HttpResponse:
    """Serve a public GET from the cache, or compute, render and store it (200s only, for
    at most ``CATALOG_CACHE_SECONDS`` and never past the response's ``valid_until``).

    The computed response may carry ``variant_ids`` (the variants it shows) and
    ``depends_on_stock`` (its rows are chosen by stock): what invalidates it.
    """
    if settings.CATALOG_CACHE_SECONDS <= 0:
        return compute()
    if not cache_usable("catalog"):  # known down: serve uncached without waiting on it
        _count("unavailable")
        return compute()
    key = _page_key(request)
    lock_key = key + ":lock"
    locked = False
    try:
        wanted = [VERSION_KEY, STOCK_SEQ_KEY, key]
        found = batched(request, wanted)
        if found is None:  # nothing carried them: one round trip of its own (MGET)
            found = cache.get_many(wanted)
        version = found.get(VERSION_KEY)
        version = catalog_version() if version is None else int(version)
        stock_seq = found.get(STOCK_SEQ_KEY)
        stock_seq = version_read(STOCK_SEQ_KEY) if stock_seq is None else int(stock_seq)
        hit = found.get(key)
        if _still_valid(hit, version, stock_seq):
            _count("hit")
            return HttpResponse(hit.body, content_type="application/json")  # type: ignore[union-attr]
        locked = bool(cache.add(lock_key, 1, timeout=_LOCK_SECONDS))
        if not locked:  # another request computes this page: wait a little for it
            deadline = time.monotonic() + SINGLE_FLIGHT_WAIT_SECONDS
            while time.monotonic() < deadline:
                time.sleep(0.01)
                hit = cache.get(key)
                if _still_valid(hit, version, stock_seq):
                    _count("hit")
                    return HttpResponse(hit.body, content_type="application/json")
    except Exception as exc:
        cache_failed("catalog", exc)  # serve uncached (utils.cache_guard)
        _count("unavailable")
        return compute()
    _count("miss")
    try:
        response = compute()
        if response.status_code == 200 and locked:
            _render(request, response)
            try:
                _store(request, key, response, version, stock_seq)
            except Exception as exc:
                cache_failed("catalog", exc)
    finally:
        if locked:
            try:
                cache.delete(lock_key)
            except Exception as exc:
                cache_failed("catalog", exc)
    return response
