"""One Redis round trip for the reads several parts of a request want.

A part of the request that will read some cache keys later announces them early
(``batch_reads``); the first part that talks to Redis anyway sends them along in its
own pipeline (``batch_execute``: the throttles do); the reader then takes the values
with ``batched`` and reads the cache itself when they did not ride along. The parts
know nothing of each other, only this module: a cached catalogue page costs one round
trip instead of two (``bench/profile.md``, row "catalogue read in the throttle's round
trip").

Only for django-redis (values are decoded with its client's public ``decode``); with
another cache backend nothing is batched and every reader reads for itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django_redis.cache import RedisCache

_ATTRIBUTE = "redis_batch"


@dataclass
class _Batch:
    keys: list[str] = field(default_factory=list)
    values: dict[str, Any] | None = None  # set once a pipeline carried the keys


def _batch(request: HttpRequest) -> _Batch | None:
    # A DRF Request proxies attributes to its HttpRequest: use the underlying one.
    return getattr(getattr(request, "_request", request), _ATTRIBUTE, None)


def batch_reads(request: HttpRequest, keys: Sequence[str]) -> None:
    """Ask for ``keys`` (as passed to ``cache.get``) to ride in this request's next pipeline."""
    target = getattr(request, "_request", request)
    batch = _batch(request) or _Batch()
    batch.keys.extend(key for key in keys if key not in batch.keys)
    setattr(target, _ATTRIBUTE, batch)


def batch_execute(request: HttpRequest | None, pipe: Any, cache: RedisCache) -> list[Any]:
    """Execute ``pipe`` with the request's pending reads appended; return its own results."""
    batch = _batch(request) if request is not None else None
    keys = batch.keys if batch is not None and batch.values is None else []
    for key in keys:
        pipe.get(cache.make_key(key))
    results = pipe.execute()
    if not keys:
        return list(results)
    own, extra = results[: len(results) - len(keys)], results[len(results) - len(keys) :]
    client = cache.client
    assert batch is not None
    batch.values = {
        key: None if raw is None else client.decode(raw)
        for key, raw in zip(keys, extra, strict=True)
    }
    return list(own)


def batched(request: HttpRequest, keys: Sequence[str]) -> dict[str, Any] | None:
    """The values of ``keys`` if a pipeline carried all of them (missing keys are None)."""
    batch = _batch(request)
    if batch is None or batch.values is None or any(key not in batch.values for key in keys):
        return None
    return {key: batch.values[key] for key in keys}
