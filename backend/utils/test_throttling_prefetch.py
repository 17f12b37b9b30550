"""The throttle's Redis pipeline carries the catalogue cache reads (``cache_prefetched``).

A cached anonymous product read costs one Redis round trip (the throttle's
pipeline: INCR, EXPIRE, GET of the previous window, GET of the catalogue version
and of the page) and no SQL. Runs against fakeredis with the real redis-py client,
and counts round trips as ``Redis.execute_command`` plus ``Pipeline.execute`` calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import pytest
import redis
from django.core.cache import cache, caches
from django.test import override_settings
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory

from apps.catalog import cache as catalog_cache
from apps.catalog.cache import VERSION_KEY, cached_catalog_response
from apps.catalog.models import Stock
from apps.catalog.testing import make_product
from apps.catalog.views import ProductViewSet
from utils import throttling
from utils.cache import RedisCache
from utils.throttling import PREFETCHED_ATTR, AnonRateThrottle, UserRateThrottle

PRODUCTS = "/api/v1/products/"
THROTTLE_PIPELINE = ["INCRBY", "EXPIRE", "GET"]


@pytest.fixture
def fake_redis() -> Iterator[fakeredis.FakeServer]:
    """utils.cache.RedisCache on a fresh fake Redis server, and the catalogue cache on."""
    server = fakeredis.FakeServer()
    caches_setting = {
        "default": {
            "BACKEND": "utils.cache.RedisCache",
            "LOCATION": "redis://fake-redis:6379/0",
            "KEY_PREFIX": "storefront",
            "OPTIONS": {"connection_class": fakeredis.FakeRedisConnection, "server": server},
        }
    }
    # A TTL far above any test's run time: entries go only by version, never by expiry
    # (a slow run, e.g. after tracing has been left on, must not expire them mid-test).
    with override_settings(CACHES=caches_setting, CATALOG_CACHE_SECONDS=60.0):
        yield server


@pytest.fixture
def redis_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """One entry per Redis round trip: a command, or the commands of one pipeline."""
    calls: list[list[str]] = []
    run_command = redis.Redis.execute_command
    run_pipeline = redis.client.Pipeline.execute

    def execute_command(self: redis.Redis, *args: Any, **options: Any) -> Any:
        calls.append([str(args[0]).upper()])
        return run_command(self, *args, **options)

    def execute(self: redis.client.Pipeline, *args: Any, **kwargs: Any) -> Any:
        calls.append([str(command[0]).upper() for command, _ in self.command_stack])
        return run_pipeline(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "execute_command", execute_command)
    monkeypatch.setattr(redis.client.Pipeline, "execute", execute)
    return calls


class _View:
    """A view that wants some cache keys read along with the throttle's counter."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def throttle_prefetch_keys(self, request: Request) -> list[str]:
        return list(self.keys)


def _anon_request(path: str = "/anything/", ip: str = "10.1.2.3") -> Request:
    return Request(APIRequestFactory().get(path, REMOTE_ADDR=ip))


def _page_key(path: str = PRODUCTS) -> str:
    return catalog_cache._page_key(Request(APIRequestFactory().get(path)))


def _available(body: dict[str, Any]) -> int:
    product = body["results"][0] if "results" in body else body
    return int(product["variants"][0]["available"])


# --- wiring -----------------------------------------------------------------------------


@pytest.mark.usefixtures("fake_redis")
def test_the_module_level_caches_are_the_fake_redis_cache() -> None:
    backend = caches["default"]
    assert type(backend) is RedisCache
    # Both are django.core.cache.cache (a proxy to caches["default"]), bound at import.
    assert AnonRateThrottle.cache._cache is backend._cache
    assert throttling.default_cache._cache is backend._cache
    assert catalog_cache.cache._cache is backend._cache
    assert hasattr(AnonRateThrottle().cache._cache, "get_client")  # the pipeline path
    # The anon throttle really runs for the product views under the test settings.
    assert AnonRateThrottle in ProductViewSet.throttle_classes
    assert AnonRateThrottle().rate
    assert AnonRateThrottle().num_requests


# --- the throttle's pipeline ------------------------------------------------------------


@pytest.mark.usefixtures("fake_redis")
def test_prefetched_values_ride_in_the_throttle_pipeline(redis_calls: list[list[str]]) -> None:
    cache.set("p:dict", {"a": [1, 2]})
    cache.set("p:int", 5)
    cache.set("p:text", "hello")
    request = _anon_request()
    view = _View(["p:dict", "p:missing", "p:int", "p:text"])
    redis_calls.clear()

    assert AnonRateThrottle().allow_request(request, view) is True

    assert redis_calls == [[*THROTTLE_PIPELINE, "GET", "GET", "GET", "GET"]]
    assert getattr(request, PREFETCHED_ATTR) == {
        "p:dict": {"a": [1, 2]},
        "p:missing": None,
        "p:int": 5,
        "p:text": "hello",
    }


@pytest.mark.usefixtures("fake_redis")
def test_the_pipeline_still_counts_and_limits() -> None:
    view = _View(["p:any"])
    throttle = AnonRateThrottle()
    throttle.rate = "2/hour"
    throttle.num_requests, throttle.duration = throttle.parse_rate(throttle.rate)
    results = [throttle.allow_request(_anon_request(ip="10.9.9.9"), view) for _ in range(3)]
    assert results == [True, True, False]
    wait = throttle.wait()
    assert wait is not None
    assert wait >= 1.0
    # Another caller has its own counter.
    assert throttle.allow_request(_anon_request(ip="10.8.8.8"), view) is True


@pytest.mark.usefixtures("fake_redis")
def test_a_second_throttle_on_the_same_request_does_not_fetch_again(
    redis_calls: list[list[str]],
) -> None:
    cache.set("p:one", 1)
    request = _anon_request()
    view = _View(["p:one"])
    assert AnonRateThrottle().allow_request(request, view) is True
    first = getattr(request, PREFETCHED_ATTR)
    cache.set("p:one", 2)
    redis_calls.clear()

    other = AnonRateThrottle()
    other.scope = "other"  # its own counter key, so it really runs its pipeline
    assert other.allow_request(request, view) is True

    assert redis_calls == [THROTTLE_PIPELINE]
    assert getattr(request, PREFETCHED_ATTR) is first
    assert first == {"p:one": 1}


@pytest.mark.usefixtures("fake_redis")
def test_no_keys_or_no_hook_leave_the_request_alone(redis_calls: list[list[str]]) -> None:
    request = _anon_request()
    assert AnonRateThrottle().allow_request(request, _View([])) is True
    assert AnonRateThrottle().allow_request(request, object()) is True
    assert not hasattr(request, PREFETCHED_ATTR)
    assert redis_calls == [THROTTLE_PIPELINE, THROTTLE_PIPELINE]


def test_a_cache_without_pipelines_sets_nothing() -> None:
    # config.settings.test: LocMemCache. The throttle counts, the view reads on its own.
    request = _anon_request()
    assert AnonRateThrottle().allow_request(request, _View(["p:x"])) is True
    assert not hasattr(request, PREFETCHED_ATTR)


def test_the_prefetched_keys_name_the_version_and_this_page() -> None:
    def keys(path: str, **extra: str) -> list[str]:
        with override_settings(CATALOG_CACHE_SECONDS=60.0):
            return catalog_cache.catalog_cache_keys(Request(APIRequestFactory().get(path, **extra)))

    version, page = keys(PRODUCTS)
    assert version == VERSION_KEY
    assert page == _page_key()
    assert keys(PRODUCTS)[1] == page
    assert keys(f"{PRODUCTS}?page=2")[1] != page
    assert keys(f"{PRODUCTS}tee/")[1] != page
    assert keys(PRODUCTS, HTTP_HOST="other.example")[1] != page
    with override_settings(CATALOG_CACHE_SECONDS=0.0):
        assert catalog_cache.catalog_cache_keys(Request(APIRequestFactory().get(PRODUCTS))) == []


# --- cached_catalog_response with prefetched values -------------------------------------


def _drf_request(path: str = PRODUCTS) -> Request:
    request = Request(APIRequestFactory().get(path))
    request.accepted_renderer = JSONRenderer()
    request.accepted_media_type = "application/json"
    return request


class _Compute:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Response:
        self.calls += 1
        return Response({"fresh": self.calls})


@pytest.mark.usefixtures("fake_redis")
def test_a_prefetched_hit_is_served_without_another_round_trip(
    redis_calls: list[list[str]],
) -> None:
    request, compute = _drf_request(), _Compute()
    key = catalog_cache._page_key(request)
    setattr(request, PREFETCHED_ATTR, {VERSION_KEY: 7, key: (7, b'{"cached":true}')})

    response = cached_catalog_response(request, compute)

    assert response.content == b'{"cached":true}'
    assert compute.calls == 0
    assert redis_calls == []  # not even the MGET it would do without the prefetch


@pytest.mark.usefixtures("fake_redis")
def test_a_prefetched_entry_of_an_older_version_is_recomputed(
    redis_calls: list[list[str]],
) -> None:
    request, compute = _drf_request(), _Compute()
    key = catalog_cache._page_key(request)
    setattr(request, PREFETCHED_ATTR, {VERSION_KEY: 8, key: (7, b'{"stale":true}')})

    response = cached_catalog_response(request, compute)

    assert response.content == b'{"fresh":1}'
    assert compute.calls == 1
    assert redis_calls == [["SET"]]
    assert cache.get(key) == (8, b'{"fresh":1}')  # stored under the current version


@pytest.mark.usefixtures("fake_redis")
def test_without_both_keys_prefetched_the_lookup_reads_the_cache(
    redis_calls: list[list[str]],
) -> None:
    request, compute = _drf_request(), _Compute()
    key = catalog_cache._page_key(request)
    cache.set(VERSION_KEY, 9, timeout=None)
    cache.set(key, (9, b'{"cached":true}'))
    # Only the version rode along (e.g. a view that asked for other keys): not trusted.
    setattr(request, PREFETCHED_ATTR, {VERSION_KEY: 9})
    redis_calls.clear()

    response = cached_catalog_response(request, compute)

    assert response.content == b'{"cached":true}'
    assert compute.calls == 0
    assert redis_calls == [["MGET"]]


# --- through the API --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("fake_redis")
@pytest.mark.parametrize("path", [PRODUCTS, f"{PRODUCTS}tee/"])
def test_a_cached_read_costs_one_redis_round_trip_and_no_sql(
    api_client: APIClient,
    redis_calls: list[list[str]],
    django_assert_num_queries: Callable[..., Any],
    path: str,
) -> None:
    make_product(slug="tee", stock=7)
    first = api_client.get(path)
    assert first.status_code == 200
    version = cache.get(VERSION_KEY)
    assert isinstance(version, int)
    assert cache.get(_page_key(path)) == (version, first.content)
    redis_calls.clear()

    with django_assert_num_queries(0):
        second = api_client.get(path)

    assert second.status_code == 200
    assert second.content == first.content
    # The throttle's pipeline, with the version and the page: nothing else.
    assert redis_calls == [[*THROTTLE_PIPELINE, "GET", "GET"]]


@pytest.mark.django_db
@pytest.mark.usefixtures("fake_redis")
def test_an_entry_of_an_older_version_is_not_served(
    api_client: APIClient, redis_calls: list[list[str]]
) -> None:
    product = make_product(slug="tee", stock=7)
    assert _available(api_client.get(PRODUCTS).json()) == 7
    # A change that bypasses the version bump: the cached page (still 7) is served ...
    Stock.objects.filter(variant=product.variants.get()).update(on_hand=3)
    assert _available(api_client.get(PRODUCTS).json()) == 7
    # ... until the version moves on, as catalog_changed() does after a commit.
    old_version = cache.get(VERSION_KEY)
    catalog_cache._bump()
    assert cache.get(VERSION_KEY) == old_version + 1
    redis_calls.clear()

    response = api_client.get(PRODUCTS)

    assert _available(response.json()) == 3
    assert redis_calls[0] == [*THROTTLE_PIPELINE, "GET", "GET"]  # the prefetch still ran
    assert cache.get(_page_key()) == (old_version + 1, response.content)


@pytest.mark.django_db
@pytest.mark.usefixtures("fake_redis")
def test_an_entry_planted_with_an_older_version_is_not_served(api_client: APIClient) -> None:
    make_product(slug="tee", stock=7)
    fresh = api_client.get(PRODUCTS)
    version = cache.get(VERSION_KEY)
    cache.set(_page_key(), (version - 1, b'{"stale":true}'))

    response = api_client.get(PRODUCTS)

    assert response.content == fresh.content
    assert cache.get(_page_key()) == (version, fresh.content)


@pytest.mark.django_db
@pytest.mark.usefixtures("fake_redis")
def test_a_missing_version_key_is_created(
    api_client: APIClient,
    redis_calls: list[list[str]],
    django_assert_num_queries: Callable[..., Any],
) -> None:
    product = make_product(slug="tee", stock=7)
    cache.delete(VERSION_KEY)

    first = api_client.get(PRODUCTS)

    version = cache.get(VERSION_KEY)
    assert isinstance(version, int)
    assert cache.get(_page_key()) == (version, first.content)
    redis_calls.clear()
    with django_assert_num_queries(0):
        assert api_client.get(PRODUCTS).content == first.content
    assert len(redis_calls) == 1

    # The version key evicted while the page is cached: a new series, the page recomputed.
    Stock.objects.filter(variant=product.variants.get()).update(on_hand=2)
    cache.delete(VERSION_KEY)
    response = api_client.get(PRODUCTS)
    assert _available(response.json()) == 2
    new_version = cache.get(VERSION_KEY)
    assert isinstance(new_version, int)
    assert new_version != version
    assert cache.get(_page_key()) == (new_version, response.content)


@pytest.mark.django_db
@pytest.mark.usefixtures("fake_redis")
@pytest.mark.parametrize("path", [PRODUCTS, f"{PRODUCTS}tee/"])
def test_staff_are_never_served_from_the_cache(
    api_client: APIClient,
    staff_client: APIClient,
    redis_calls: list[list[str]],
    path: str,
) -> None:
    make_product(slug="tee", stock=7)
    api_client.get(path)
    planted = (cache.get(VERSION_KEY), b'{"planted":true}')
    cache.set(_page_key(path), planted)
    assert api_client.get(path).content == planted[1]  # customers get the cached entry
    redis_calls.clear()

    response = staff_client.get(path)

    assert response.status_code == 200
    assert _available(response.json()) == 7
    # Only the user throttle's counter: no prefetched keys, no lookup, no store.
    assert redis_calls == [THROTTLE_PIPELINE]
    assert cache.get(_page_key(path)) == planted


@pytest.mark.django_db
@pytest.mark.usefixtures("fake_redis")
def test_staff_do_not_prefetch(staff_client: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Request] = []
    count = UserRateThrottle._count

    def spy(self: UserRateThrottle, *args: Any, **kwargs: Any) -> tuple[int, int]:
        result = count(self, *args, **kwargs)
        seen.append(kwargs["request"])
        return result

    monkeypatch.setattr(UserRateThrottle, "_count", spy)
    make_product(slug="tee", stock=7)
    assert staff_client.get(PRODUCTS).status_code == 200
    assert len(seen) == 1
    assert not hasattr(seen[0], PREFETCHED_ATTR)
