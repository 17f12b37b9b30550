"""A short-lived cache of public catalogue responses that is never staler than a commit.

Every catalogue write and every stock change calls ``catalog_changed()``, which
bumps a version number in the shared cache right after the transaction commits.
Cached responses are keyed by that version, so the first request after a
committed change misses and recomputes. If the bump itself fails (cache down),
entries still expire after ``CATALOG_CACHE_SECONDS`` (default 2 s): that is the
documented worst-case staleness of availability in the product list.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.response import Response

logger = logging.getLogger(__name__)

VERSION_KEY = "catalog:version"


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
    except Exception:
        logger.warning("could not bump the catalogue cache version; entries expire on their own")


def catalog_changed() -> None:
    """Invalidate cached catalogue responses once the current transaction commits."""
    transaction.on_commit(_bump, robust=True)


def cached_catalog_response(request: Request, compute: Callable[[], Response]) -> HttpResponse:
    """Serve a public GET from the cache, or compute, render and store it (200s only)."""
    ttl = float(getattr(settings, "CATALOG_CACHE_SECONDS", 2))
    if ttl <= 0:
        return compute()
    try:
        uri = hashlib.sha256(request.build_absolute_uri().encode()).hexdigest()
        key = f"catalog:v{catalog_version()}:{uri}"
        hit = cache.get(key)
    except Exception:
        logger.warning("catalogue cache unavailable; serving uncached")
        return compute()
    if hit is not None:
        return HttpResponse(hit, content_type="application/json")
    response = compute()
    if response.status_code == 200:
        response.accepted_renderer = request.accepted_renderer
        response.accepted_media_type = request.accepted_media_type
        response.renderer_context = {"request": request, "response": response}  # type: ignore[attr-defined]
        response.render()
        try:
            cache.set(key, response.content, timeout=ttl)
        except Exception:
            logger.warning("could not store a catalogue response in the cache")
    return response
