"""A short-lived cache of public catalogue responses that is never staler than a commit.

Every catalogue write and every stock change calls ``catalog_changed()``, which
bumps a version number in the shared cache right after the transaction commits.
A cached response carries the version it was computed under, and a lookup reads
the current version and the entry together (in the request's first Redis round trip,
through ``utils.redis_batch``, or its own ``MGET``): an entry from
an older version is ignored, so the first request after a committed change
recomputes. A bump during a recompute leaves the new entry already outdated,
never stale. If the bump itself fails (cache down),
entries still expire after ``CATALOG_CACHE_SECONDS`` (default 2 s): that is the
documented worst-case staleness of availability in the product list.

Prices carry promotions, which start and end by the clock rather than by a write: the
view sets ``valid_until`` on the computed response (the next promotion start or end,
``selectors.product_prices_apply``) and the entry lives no longer than that; a
promotion written or deleted by staff bumps the version like any catalogue write.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
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
from utils.redis_batch import batch_reads, batched

logger = logging.getLogger(__name__)

VERSION_KEY = "catalog:version"

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


def _new_version() -> int:
    # Unique across restarts and cache flushes, so an old entry can never match.
    return time.time_ns()


def catalog_version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        version = _new_version()
        if not cache.add(VERSION_KEY, version, timeout=None):
            version = cache.get(VERSION_KEY) or version
    return int(version)


def _bump() -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # the key was missing or evicted: start a fresh series
        cache.set(VERSION_KEY, _new_version(), timeout=None)
    except Exception as exc:
        cache_failed("catalog", exc)  # entries expire on their own (CATALOG_CACHE_SECONDS)


def catalog_changed() -> None:
    """Invalidate cached catalogue responses once the current transaction commits."""
    transaction.on_commit(_bump, robust=True)


def _page_key(request: Request) -> str:
    # Scheme and Host header as sent, since the body holds absolute links (the Host was
    # already checked against ALLOWED_HOSTS by CommonMiddleware, before any view).
    meta = request.META
    host, path = meta.get("HTTP_HOST", ""), meta.get("PATH_INFO", "")
    uri = f"{request.scheme}://{host}{path}?{meta.get('QUERY_STRING', '')}"
    return "catalog:page:" + hashlib.sha256(uri.encode()).hexdigest()


def catalog_reads_announce(request: Request) -> None:
    """Announce this request's two keys, so that they ride in the request's first Redis
    round trip (``utils.redis_batch``; ``bench/profile.md``, row "catalogue read in the
    throttle's round trip"). Call before the throttles run."""
    if settings.CATALOG_CACHE_SECONDS > 0:
        batch_reads(request, [VERSION_KEY, _page_key(request)])


def _entry_ttl(ttl: float, valid_until: datetime | None) -> float:
    """``ttl`` seconds, cut to the whole seconds left before ``valid_until`` (0: do not store)."""
    if valid_until is None:
        return ttl
    left = (valid_until - timezone.now()).total_seconds()
    return max(0, min(ttl, math.floor(left)))


def cached_catalog_response(request: Request, compute: Callable[[], Response]) -> HttpResponse:
    """Serve a public GET from the cache, or compute, render and store it (200s only, for
    at most ``CATALOG_CACHE_SECONDS`` and never past the response's ``valid_until``)."""
    ttl = settings.CATALOG_CACHE_SECONDS
    if ttl <= 0:
        return compute()
    if not cache_usable("catalog"):  # known down: serve uncached without waiting on it
        _count("unavailable")
        return compute()
    try:
        key = _page_key(request)
        found = batched(request, [VERSION_KEY, key])
        if found is None:  # nothing carried them: one round trip of its own (MGET)
            found = cache.get_many([VERSION_KEY, key])
        version = found.get(VERSION_KEY)
        if version is None:
            version = catalog_version()
        hit = found.get(key)
    except Exception as exc:
        cache_failed("catalog", exc)  # serve uncached (utils.cache_guard)
        _count("unavailable")
        return compute()
    if isinstance(hit, tuple) and len(hit) == 2 and hit[0] == version:
        _count("hit")
        return HttpResponse(hit[1], content_type="application/json")
    _count("miss")
    response = compute()
    if response.status_code == 200:
        response.accepted_renderer = request.accepted_renderer
        response.accepted_media_type = request.accepted_media_type
        response.renderer_context = {"request": request, "response": response}  # type: ignore[attr-defined]
        response.render()
        timeout = _entry_ttl(ttl, getattr(response, "valid_until", None))
        if timeout <= 0:
            return response
        try:
            cache.set(key, (version, response.content), timeout=timeout)
        except Exception as exc:
            cache_failed("catalog", exc)
    return response
