"""The Redis cache is django-redis: one shared client per process, and a working cache.

Runs against fakeredis (``FakeRedisConnection`` on a private ``FakeServer``): the real
redis-py client and django-redis' connection pool, no network.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
import redis
from django.core.cache import cache, caches
from django.test import override_settings
from django_redis import get_redis_connection
from django_redis.cache import RedisCache

from config.settings.base import cache_settings


def fake_caches(server: fakeredis.FakeServer) -> dict[str, Any]:
    """The production cache settings, on fake connections to ``server``.

    django-redis keeps one connection pool per URL for the life of the process, so each
    fake server gets its own host name: a test never sees the pool of an earlier one.
    """
    settings = cache_settings(f"redis://fake-redis-{id(server)}:6379/0")
    default = settings["default"]
    default["OPTIONS"] = {
        **default["OPTIONS"],  # type: ignore[dict-item]
        # Passed on to the connection pool: real pool and client, fake connections.
        "CONNECTION_POOL_KWARGS": {
            "connection_class": fakeredis.FakeRedisConnection,
            "server": server,
        },
    }
    return settings


@pytest.fixture
def fake_redis() -> Iterator[fakeredis.FakeServer]:
    server = fakeredis.FakeServer()
    with override_settings(CACHES=fake_caches(server)):
        yield server


def test_redis_url_selects_django_redis_and_no_url_locmem() -> None:
    settings = cache_settings("redis://127.0.0.1:6379/3")["default"]
    assert settings["BACKEND"] == "django_redis.cache.RedisCache"
    assert settings["LOCATION"] == "redis://127.0.0.1:6379/3"
    assert settings["KEY_PREFIX"] == "storefront"
    locmem = cache_settings("")["default"]
    assert locmem["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"


@pytest.mark.usefixtures("fake_redis")
def test_one_client_per_process_shared_by_the_cache_and_pipelines() -> None:
    backend = caches["default"]
    assert type(backend) is RedisCache
    client = get_redis_connection("default")
    assert isinstance(client, redis.Redis)
    assert get_redis_connection("default") is client  # built once, not per call
    cache.set("k", 1)
    assert get_redis_connection("default") is client


@pytest.mark.usefixtures("fake_redis")
def test_cache_operations_work() -> None:
    cache.set("plain", {"a": [1, 2]}, timeout=30)
    assert cache.get("plain") == {"a": [1, 2]}
    assert cache.get("missing") is None
    assert cache.get("missing", "fallback") == "fallback"
    assert cache.add("plain", "other") is False
    assert cache.add("added", b"bytes") is True
    cache.set_many({"m1": 1, "m2": "two"}, timeout=30)
    assert cache.get_many(["plain", "m1", "m2", "missing"]) == {
        "plain": {"a": [1, 2]},
        "m1": 1,
        "m2": "two",
    }
    cache.set("counter", 5)
    assert cache.incr("counter") == 6
    assert cache.incr("counter", 10) == 16
    assert cache.decr("counter") == 15
    assert cache.get("counter") == 15
    with pytest.raises(ValueError):
        cache.incr("never-set")
    assert cache.has_key("added") is True
    assert cache.touch("added", 60) is True
    assert cache.delete("added") is True
    assert cache.has_key("added") is False


@pytest.mark.usefixtures("fake_redis")
def test_integers_are_stored_raw_so_redis_counts_them() -> None:
    cache.set("shared", 41)
    raw = get_redis_connection("default")
    assert raw.get(cache.make_key("shared")) == b"41"
    assert raw.incr(cache.make_key("shared")) == 42
    assert cache.get("shared") == 42


@pytest.mark.usefixtures("fake_redis")
def test_the_shared_client_is_safe_across_threads() -> None:
    cache.set("threads", 0, None)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                cache.incr("threads")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cache.get("threads") == 200
