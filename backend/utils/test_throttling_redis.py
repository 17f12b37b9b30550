"""The throttle's Redis pipeline and the catalogue cache on django-redis, unaware of each other.

A throttled request costs one Redis round trip (the pipeline: INCR, EXPIRE, GET of the
previous window); a cached anonymous product read announces its two keys through
``utils.redis_batch`` and they ride in that same pipeline: one round trip, no SQL.
Without a carrier the cache reads for itself (one MGET). Runs against fakeredis with
the real redis-py client, and counts round trips as ``Redis.execute_command`` plus
``Pipeline.execute`` calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import pytest
from django.core.cache import cache, caches
from django.test import override_settings
from django_redis.cache import RedisCache
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory

from apps.catalog import cache as catalog_cache
from apps.catalog.cache import STOCK_SEQ_KEY, VERSION_KEY, _Entry, cached_catalog_response
from apps.catalog.factories import make_product
from apps.catalog.models import Stock
from apps.catalog.views import ProductViewSet
from utils.cache_versions import version_bump
from utils.redis_batch import batch_reads, batched
from utils.test_cache import fake_caches
from utils.testing import count_redis_round_trips
from utils.throttling import AnonRateThrottle

PRODUCTS = "/api/v1/products/"
THROTTLE_PIPELINE = ["INCRBY", "EXPIRE", "GET"]


@pytest.fixture
def fake_redis() -> Iterator[fakeredis.FakeServer]:
    """django-redis on a fresh fake Redis server, and the catalogue cache on."""
    server = fakeredis.FakeServer()
    caches_setting = fake_caches(server)
    # A TTL far above any test's run time: entries go only by version, never by expiry
    # (a slow run, e.g. after tracing has been left on, must not expire them mid-test).
    with override_settings(CACHES=caches_setting, CATALOG_CACHE_SECONDS=60.0):
        yield server


@pytest.fixture
def redis_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    return count_redis_round_trips(monkeypatch)


def _anon_request(path: str = "/anything/", ip: str = "10.1.2.3") -> Request:
    return Request(APIRequestFactory().get(path, REMOTE_ADDR=ip))


def _pair(entry: object) -> tuple[int, bytes]:
    assert isinstance(entry, _Entry)
    return entry.version, entry.body


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
    assert AnonRateThrottle.cache_alias == "default"  # the pipeline path
    assert catalog_cache.cache.client is backend.client  # the module-level proxy follows
    # The anon throttle really runs for the product views under the test settings.
    assert AnonRateThrottle in ProductViewSet.throttle_classes
    assert AnonRateThrottle().rate
    assert AnonRateThrottle().num_requests


# --- the throttle's pipeline ------------------------------------------------------------


@pytest.mark.usefixtures("fake_redis")
def test_the_pipeline_counts_and_limits(redis_calls: list[list[str]]) -> None:
    view = object()
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
    # One pipeline per allowed request; the refused one also gives its count back (DECR).
    assert redis_calls.count(THROTTLE_PIPELINE) == 4


# --- cached_catalog_response: its own read ------------------------------------------------


def _drf_request(path: str = PRODUCTS) -> Request:
    request = Request(APIRequestFactory().get(path))
    request.accepted_renderer = JSONRenderer()
    request.accepted_media_type = "application/json"
    return request


def _page_cached(request: Request, *, version: int, entry_version: int, body: bytes) -> str:
    """The catalogue at ``version`` (stock sequence 4) and ``body`` stored as the page of
    ``request`` computed at ``entry_version``; the page's key."""
    key = catalog_cache._page_key(request)
    cache.set(VERSION_KEY, version, timeout=None)
    cache.set(STOCK_SEQ_KEY, 4, timeout=None)
    cache.set(key, _Entry(entry_version, None, False, (), body))
    return key


class _Compute:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Response:
        self.calls += 1
        return Response({"fresh": self.calls})


@pytest.mark.usefixtures("fake_redis")
def test_a_hit_is_one_mget_of_the_version_and_the_page(redis_calls: list[list[str]]) -> None:
    request, compute = _drf_request(), _Compute()
    _page_cached(request, version=9, entry_version=9, body=b'{"cached":true}')
    redis_calls.clear()

    response = cached_catalog_response(request, compute)

    assert response.content == b'{"cached":true}'
    assert compute.calls == 0
    assert redis_calls == [["MGET"]]


@pytest.mark.usefixtures("fake_redis")
def test_an_entry_of_an_older_version_is_recomputed_and_stored_under_the_current_one(
    redis_calls: list[list[str]],
) -> None:
    request, compute = _drf_request(), _Compute()
    key = _page_cached(request, version=8, entry_version=7, body=b'{"stale":true}')
    redis_calls.clear()

    response = cached_catalog_response(request, compute)

    assert response.content == b'{"fresh":1}'
    assert compute.calls == 1
    # lookup, single-flight lock (SET NX), the stock sequence and the variants' versions
    # read after computing, the store, the lock freed
    assert redis_calls == [["MGET"], ["SET"], ["MGET"], ["SET"], ["DEL"]]
    assert _pair(cache.get(key)) == (8, b'{"fresh":1}')


def test_the_page_key_names_scheme_host_path_and_query() -> None:
    page = _page_key()
    assert page.startswith("catalog:page:")
    assert _page_key(PRODUCTS) == page
    assert _page_key(f"{PRODUCTS}?page=2") != page
    assert _page_key(f"{PRODUCTS}tee/") != page
    other = catalog_cache._page_key(
        Request(APIRequestFactory().get(PRODUCTS, HTTP_HOST="x.example"))
    )
    assert other != page


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
    assert _pair(cache.get(_page_key(path))) == (version, first.content)
    redis_calls.clear()

    with django_assert_num_queries(0):
        second = api_client.get(path)

    assert second.status_code == 200
    assert second.content == first.content
    # The throttle's pipeline, carrying the versions and the page: no stock change was
    # committed since the page was stored, so nothing else.
    assert redis_calls == [[*THROTTLE_PIPELINE, "GET", "GET", "GET"]]
    # A stock change of another product committed (the stock sequence moved, as
    # catalog_changed(variant_ids=...) does after the commit): one more round trip, the
    # stock versions of the variants the page shows, still the same.
    version_bump(STOCK_SEQ_KEY)
    redis_calls.clear()

    with django_assert_num_queries(0):
        third = api_client.get(path)

    assert third.content == first.content
    assert redis_calls == [[*THROTTLE_PIPELINE, "GET", "GET", "GET"], ["MGET"]]


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
    version_bump(VERSION_KEY)
    assert cache.get(VERSION_KEY) == old_version + 1
    redis_calls.clear()

    response = api_client.get(PRODUCTS)

    assert _available(response.json()) == 3
    assert redis_calls[0] == [*THROTTLE_PIPELINE, "GET", "GET", "GET"]
    assert _pair(cache.get(_page_key())) == (old_version + 1, response.content)


@pytest.mark.django_db
@pytest.mark.usefixtures("fake_redis")
def test_an_entry_planted_with_an_older_version_is_not_served(api_client: APIClient) -> None:
    make_product(slug="tee", stock=7)
    fresh = api_client.get(PRODUCTS)
    version = cache.get(VERSION_KEY)
    cache.set(_page_key(), _Entry(version - 1, None, False, (), b'{"stale":true}'))

    response = api_client.get(PRODUCTS)

    assert response.content == fresh.content
    assert _pair(cache.get(_page_key())) == (version, fresh.content)


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
    assert _pair(cache.get(_page_key())) == (version, first.content)
    redis_calls.clear()
    with django_assert_num_queries(0):
        assert api_client.get(PRODUCTS).content == first.content
    assert redis_calls == [[*THROTTLE_PIPELINE, "GET", "GET", "GET"]]

    # The version key evicted while the page is cached: a new series, the page recomputed.
    Stock.objects.filter(variant=product.variants.get()).update(on_hand=2)
    cache.delete(VERSION_KEY)
    response = api_client.get(PRODUCTS)
    assert _available(response.json()) == 2
    new_version = cache.get(VERSION_KEY)
    assert isinstance(new_version, int)
    assert new_version != version
    assert _pair(cache.get(_page_key())) == (new_version, response.content)


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
    planted = _Entry(cache.get(VERSION_KEY), None, False, (), b'{"planted":true}')
    cache.set(_page_key(path), planted)
    assert api_client.get(path).content == planted.body  # customers get the cached entry
    redis_calls.clear()

    response = staff_client.get(path)

    assert response.status_code == 200
    assert _available(response.json()) == 7
    # Only the user throttle's counter: no lookup, no store.
    assert redis_calls == [THROTTLE_PIPELINE]
    assert cache.get(_page_key(path)) == planted


# --- utils.redis_batch: the reads ride along without either side knowing the other -------


@pytest.mark.usefixtures("fake_redis")
def test_announced_reads_ride_in_the_throttle_pipeline(redis_calls: list[list[str]]) -> None:
    cache.set("p:dict", {"a": [1, 2]})
    cache.set("p:int", 5)
    request = _anon_request()
    batch_reads(request, ["p:dict", "p:missing", "p:int"])
    redis_calls.clear()

    assert AnonRateThrottle().allow_request(request, object()) is True

    assert redis_calls == [[*THROTTLE_PIPELINE, "GET", "GET", "GET"]]
    assert batched(request, ["p:dict", "p:missing", "p:int"]) == {
        "p:dict": {"a": [1, 2]},
        "p:missing": None,
        "p:int": 5,
    }
    assert batched(request, ["p:dict", "p:other"]) is None  # not all carried: read yourself


@pytest.mark.usefixtures("fake_redis")
def test_a_second_pipeline_does_not_carry_the_reads_again(redis_calls: list[list[str]]) -> None:
    cache.set("p:one", 1)
    request = _anon_request()
    batch_reads(request, ["p:one"])
    assert AnonRateThrottle().allow_request(request, object()) is True
    cache.set("p:one", 2)
    redis_calls.clear()
    other = AnonRateThrottle()
    other.scope = "other"  # its own counter key, so it really runs its pipeline
    assert other.allow_request(request, object()) is True
    assert redis_calls == [THROTTLE_PIPELINE]
    assert batched(request, ["p:one"]) == {"p:one": 1}


def test_without_redis_nothing_is_batched_and_the_reader_reads_itself() -> None:
    # config.settings.test: LocMemCache. The throttle counts, the reader finds no batch.
    request = _anon_request()
    batch_reads(request, ["p:x"])
    assert AnonRateThrottle().allow_request(request, object()) is True
    assert batched(request, ["p:x"]) is None
