"""Version counters in the shared cache: how a cached thing learns that what it copied changed.

A version is an integer under a key. Readers read it before they read the data and keep
their copy under it; writers bump it after they change the data. A missing key (never
set, evicted, the cache flushed) starts a fresh series from the clock, so a copy kept
under an old series can never match again. Used by the catalogue's caches
(``apps/catalog/cache.py``) and the pricing rule tables (``apps/pricing/reference.py``).
Both raise what the cache raises: the callers fail open.
"""

from __future__ import annotations

import time

from django.core.cache import cache


def version_new() -> int:
    """A version no earlier series used: unique across restarts and cache flushes."""
    return time.time_ns()


def version_read(key: str) -> int:
    """The current version under ``key``, starting a series if there is none."""
    version = cache.get(key)
    if version is None:
        version = version_new()
        if not cache.add(key, version, timeout=None):
            version = cache.get(key) or version
    return int(version)


def version_bump(key: str) -> None:
    """Move ``key`` to a new version (a fresh series if it was missing)."""
    try:
        cache.incr(key)
    except ValueError:  # the key was missing or evicted
        cache.set(key, version_new(), timeout=None)
