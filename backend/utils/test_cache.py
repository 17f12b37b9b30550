"""utils.cache.RedisCache: one redis.Redis per connection pool, and still a working cache.

Runs against fakeredis (``FakeRedisConnection`` on a private ``FakeServer``): the
real redis-py client and connection pool, no network.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest
import redis
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.test import override_settings

from config.settings.base import cache_settings
from utils.cache import RedisCache, RedisCacheClient


def _fake_caches(server: fakeredis.FakeServer, location: str) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "utils.cache.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": "storefront",
            # Passed on to ConnectionPool.from_url: real pool, fake connections.
            "OPTIONS": {"connection_class": fakeredis.FakeRedisConnection, "server": server},
        }
    }


@pytest.fixture
def fake_redis() -> Iterator[fakeredis.FakeServer]:
    """The default cache is utils.cache.RedisCache on a fresh fake Redis server."""
    server = fakeredis.FakeServer()
    with override_settings(CACHES=_fake_caches(server, "redis://fake-redis:6379/0")):
        yield server


@pytest.fixture
def counted_clients(monkeypatch: pytest.MonkeyPatch) -> list[redis.Redis]:
    """Every redis.Redis the cache's client builds from now on."""
    built: list[redis.Redis] = []
    client = caches["default"]._cache

    def build(*args: Any, **kwargs: Any) -> redis.Redis:
        built.append(redis.Redis(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(client, "_client", build)
    return built


def test_redis_url_selects_the_project_backend() -> None:
    settings = cache_settings("redis://127.0.0.1:6379/0")["default"]
    assert settings["BACKEND"] == "utils.cache.RedisCache"
    assert issubclass(RedisCache, DjangoRedisCache)


@pytest.mark.usefixtures("fake_redis")
def test_the_default_cache_is_the_project_backend() -> None:
    backend = caches["default"]
    assert type(backend) is RedisCache
    assert type(backend._cache) is RedisCacheClient
    assert cache._cache is backend._cache  # the module-level proxy follows the override


@pytest.mark.usefixtures("fake_redis")
def test_get_client_returns_one_client_per_pool() -> None:
    client = caches["default"]._cache
    first = client.get_client()
    assert isinstance(first, redis.Redis)
    assert client.get_client() is first
    assert client.get_client("some-key") is first
    # One server: reads and writes share its pool, so they share the client too.
    assert client.get_client("some-key", write=True) is first
    assert first.connection_pool is client._get_connection_pool(True)


def test_a_replica_pool_gets_its_own_client() -> None:
    server = fakeredis.FakeServer()
    location = "redis://primary:6379/0,redis://replica:6379/0"
    with override_settings(CACHES=_fake_caches(server, location)):
        client = caches["default"]._cache
        writer = client.get_client(write=True)
        reader = client.get_client()
        assert writer is not reader
        assert writer.connection_pool is client._get_connection_pool(True)
        assert reader.connection_pool is client._get_connection_pool(False)
        assert writer.connection_pool is not reader.connection_pool
        assert client.get_client(write=True) is writer
        assert client.get_client() is reader


@pytest.mark.usefixtures("fake_redis")
def test_cache_operations_work_and_build_one_client(counted_clients: list[redis.Redis]) -> None:
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

    assert len(counted_clients) == 1  # not one per call
    assert caches["default"]._cache.get_client() is counted_clients[0]


@pytest.mark.usefixtures("fake_redis")
def test_the_cache_writes_through_the_shared_client(fake_redis: fakeredis.FakeServer) -> None:
    cache.set("shared", 41)
    raw = redis.Redis(connection_pool=caches["default"]._cache._get_connection_pool(True))
    assert raw.get(cache.make_and_validate_key("shared")) == b"41"  # ints are stored raw
    assert cache.incr("shared") == 42


@pytest.mark.usefixtures("fake_redis")
def test_the_shared_client_is_safe_across_threads(counted_clients: list[redis.Redis]) -> None:
    client = caches["default"]._cache
    key = cache.make_and_validate_key("threads")
    client.set(key, 0, None)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                client.incr(key, 1)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert client.get(key, None) == 200
    assert len(counted_clients) == 1
