"""Throttles with an atomic counter, so a limit holds across processes.

DRF's stock throttles read a request history from the cache, append to it and
write it back: two gunicorn workers can both read before either writes, and
under load the limit leaks. These count with the cache's atomic ``incr``
(Redis INCR in production), with the usual sliding-window estimate over the
current and the previous window so a burst across a boundary is still bounded.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache as default_cache
from rest_framework import throttling
from rest_framework.request import Request

# Cache reads a view wants anyway ride along in the throttle's Redis round trip: a view
# may define ``throttle_prefetch_keys(request) -> list[str]`` (cache keys as passed to
# ``cache.get``), and finds the values in ``request.<PREFETCHED_ATTR>`` (missing keys
# map to None). Only Django's Redis cache does this; other backends leave it unset.
PREFETCHED_ATTR = "cache_prefetched"


class AtomicWindowMixin:
    """Replace the history list with one atomic counter per window."""

    cache = default_cache
    num_requests: int | None
    duration: int | None
    _wait: float = 1.0

    def allow_request(self, request: Request, view: Any) -> bool:
        if getattr(self, "rate", None) is None:
            return True
        key = self.get_cache_key(request, view)  # type: ignore[attr-defined]
        if key is None or not self.num_requests or not self.duration:
            return True
        now = time.time()
        window = int(now // self.duration)
        elapsed = (now % self.duration) / self.duration
        current_key, previous_key = f"{key}:w{window}", f"{key}:w{window - 1}"
        count, previous = self._count(
            current_key, previous_key, ttl=2 * self.duration + 1, request=request, view=view
        )
        # Sliding-window estimate: the previous window counts for the part still in view.
        estimate = previous * (1.0 - elapsed) + count
        if estimate <= self.num_requests:
            return True
        self.cache.decr(current_key)  # refused requests do not use up the allowance
        # At the latest when this window ends, the previous one no longer counts in full.
        self._wait = self.duration * (1.0 - elapsed)
        return False

    def wait(self) -> float | None:
        return max(1.0, float(getattr(self, "_wait", 1.0)))

    def _count(
        self,
        current_key: str,
        previous_key: str,
        *,
        ttl: int,
        request: Request | None = None,
        view: Any = None,
    ) -> tuple[int, int]:
        """Increment this window's counter and read the previous one."""
        client = getattr(self.cache, "_cache", None)
        if client is not None and hasattr(client, "get_client"):
            # Django's RedisCache: INCR + EXPIRE + GET (+ the view's reads) in one round trip.
            # make_key, not make_and_validate_key: these keys are the throttle's own and
            # the view's (hex digests, ids), and the memcached check loops over each char.
            current = self.cache.make_key(current_key)
            previous = self.cache.make_key(previous_key)
            extra = _prefetch_keys(request, view)
            pipe = client.get_client(current, write=True).pipeline(transaction=False)
            pipe.incr(current)
            pipe.expire(current, ttl)
            pipe.get(previous)
            for key in extra:
                pipe.get(self.cache.make_key(key))
            count, _, before, *values = pipe.execute()
            if extra and request is not None:
                loads = client._serializer.loads
                prefetched = {
                    key: None if raw is None else loads(raw)
                    for key, raw in zip(extra, values, strict=True)
                }
                setattr(request, PREFETCHED_ATTR, prefetched)
            return int(count), int(before or 0)
        self.cache.add(current_key, 0, timeout=ttl)
        try:
            count = self.cache.incr(current_key)
        except ValueError:  # expired between add and incr
            self.cache.add(current_key, 1, timeout=ttl)
            count = 1
        return int(count), int(self.cache.get(previous_key) or 0)


def _prefetch_keys(request: Request | None, view: Any) -> list[str]:
    keys_for = getattr(view, "throttle_prefetch_keys", None)
    if request is None or keys_for is None or hasattr(request, PREFETCHED_ATTR):
        return []  # one throttle per request fetches them
    return list(keys_for(request))


class AnonRateThrottle(AtomicWindowMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(AtomicWindowMixin, throttling.UserRateThrottle):
    """Signed-in users by id; anonymous callers are left to ``AnonRateThrottle``."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None  # counted once, by the anon throttle, not twice
        return super().get_cache_key(request, view)


class ScopedRateThrottle(AtomicWindowMixin, throttling.ScopedRateThrottle):
    """Rate from the view's ``throttle_scope`` (``auth``, ``checkout``, ``payment``)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)
