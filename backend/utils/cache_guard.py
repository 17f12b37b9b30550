"""The shared cache (throttle counters, catalogue pages) fails open.

When a cache call fails (Redis down, a timeout), the caller goes on without the
cache: a throttle lets the request through, the catalogue computes its page. The
failure is logged (once per outage, per process) and counted in
``storefront_cache_failures_total{component}``, and the cache is left alone for
``CACHE_RETRY_AFTER_SECONDS`` so that an unreachable Redis costs one timeout per
process per interval, not one per call.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from prometheus_client import Counter

logger = logging.getLogger("utils.cache")

CACHE_FAILURES = Counter(
    "storefront_cache_failures",
    "Cache calls that failed and were skipped (the cache fails open), by component.",
    ["component"],
)
CACHE_SKIPPED = Counter(
    "storefront_cache_skipped",
    "Cache calls not attempted because the cache failed moments ago, by component.",
    ["component"],
)

_lock = threading.Lock()
_down_until = 0.0


def cache_usable(component: str) -> bool:
    """False while the cache is resting after a failure (the call is counted as skipped)."""
    if time.monotonic() >= _down_until:
        return True
    CACHE_SKIPPED.labels(component=component).inc()
    return False


def cache_failed(component: str, exc: BaseException) -> None:
    """Record a failed cache call: count it, log the first of an outage, rest the cache."""
    global _down_until
    CACHE_FAILURES.labels(component=component).inc()
    with _lock:
        first = time.monotonic() >= _down_until
        _down_until = time.monotonic() + settings.CACHE_RETRY_AFTER_SECONDS
    if first:
        logger.warning(
            "cache unavailable (%s: %s: %s); failing open for %g s",
            component,
            type(exc).__name__,
            exc,
            settings.CACHE_RETRY_AFTER_SECONDS,
        )


def cache_reset() -> None:
    """Forget a past failure (tests)."""
    global _down_until
    _down_until = 0.0
