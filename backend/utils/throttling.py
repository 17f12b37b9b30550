"""Throttles with an atomic counter, so a limit holds across processes.

DRF's stock throttles read a request history from the cache, append to it and
write it back: two gunicorn workers can both read before either writes, and
under load the limit leaks. When the cache is unreachable they let requests
through (fail open: logged and counted, ``utils.cache_guard``). These count with
the cache's atomic ``incr`` (Redis INCR in production), with the usual sliding-window
estimate over the current and the previous window so a burst across a boundary is
still bounded.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import caches
from django_redis import get_redis_connection
from django_redis.cache import RedisCache
from rest_framework import throttling
from rest_framework.request import Request

from utils.cache_guard import cache_failed, cache_usable
from utils.redis_batch import batch_execute


class AtomicWindowMixin:
    """Replace the history list with one atomic counter per window."""

    cache_alias = "default"
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
        if not cache_usable("throttle"):
            return True
        try:
            count, previous = self._count(
                current_key, previous_key, ttl=2 * self.duration + 1, request=request
            )
        except Exception as exc:  # the cache is down: fail open (utils.cache_guard)
            cache_failed("throttle", exc)
            return True
        # Sliding-window estimate: the previous window counts for the part still in view.
        estimate = previous * (1.0 - elapsed) + count
        if estimate <= self.num_requests:
            return True
        try:
            caches[self.cache_alias].decr(current_key)  # refused requests keep their allowance
        except Exception as exc:
            cache_failed("throttle", exc)
        # At the latest when this window ends, the previous one no longer counts in full.
        self._wait = self.duration * (1.0 - elapsed)
        return False

    def wait(self) -> float | None:
        return max(1.0, float(getattr(self, "_wait", 1.0)))

    def _count(
        self, current_key: str, previous_key: str, *, ttl: int, request: Request | None = None
    ) -> tuple[int, int]:
        """Increment this window's counter and read the previous one."""
        cache = caches[self.cache_alias]
        if isinstance(cache, RedisCache):
            # INCR + EXPIRE + GET in one round trip, on django-redis's shared client, with
            # whatever reads the request announced (utils.redis_batch).
            # django-redis stores integers unpickled, so INCR and GET see plain numbers.
            current, previous = cache.make_key(current_key), cache.make_key(previous_key)
            pipe = get_redis_connection(self.cache_alias).pipeline(transaction=False)
            pipe.incr(current)
            pipe.expire(current, ttl)
            pipe.get(previous)
            count, _, before = batch_execute(request, pipe, cache)
            return int(count), int(before or 0)
        cache.add(current_key, 0, timeout=ttl)
        try:
            count = cache.incr(current_key)
        except ValueError:  # expired between add and incr
            cache.add(current_key, 1, timeout=ttl)
            count = 1
        return int(count), int(cache.get(previous_key) or 0)


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
