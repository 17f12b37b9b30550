"""The catalogue cache on the real Redis cache and PostgreSQL, outside any test transaction.

A repeated anonymous product read is served from Redis without SQL, in the one
round trip the throttle makes anyway (``utils.redis_batch``); a committed stock
change is visible on the very next request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.db import transaction
from django.test import override_settings
from django_redis.cache import RedisCache
from rest_framework.test import APIClient

from apps.catalog.factories import make_product
from apps.catalog.stock import at_default, stock_apply
from utils.testing import count_redis_round_trips

pytestmark = pytest.mark.django_db(transaction=True)

PRODUCTS = "/api/v1/products/"


@pytest.fixture(autouse=True)
def _real_redis_cache() -> Iterator[None]:
    backend = caches["default"]
    assert type(backend) is RedisCache, "integration settings must use the Redis cache"
    # Far above the test's run time: a change can only show through invalidation, not expiry.
    with override_settings(CATALOG_CACHE_SECONDS=60.0):
        yield


@pytest.fixture
def redis_round_trips(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    return count_redis_round_trips(monkeypatch)


def _available(client: APIClient, url: str = PRODUCTS) -> int:
    response = client.get(url)
    assert response.status_code == 200, response.content
    body = response.json()
    product = body["results"][0] if "results" in body else body
    return int(product["variants"][0]["available"])


@pytest.mark.parametrize("url", [PRODUCTS, f"{PRODUCTS}it-tee/"])
def test_a_repeated_anonymous_read_costs_no_sql_and_one_redis_round_trip(
    django_assert_num_queries: Any, redis_round_trips: list[list[str]], url: str
) -> None:
    make_product(slug="it-tee", stock=7)
    client = APIClient()
    first = client.get(url)
    assert first.status_code == 200, first.content
    redis_round_trips.clear()

    with django_assert_num_queries(0):
        second = client.get(url)

    assert second.status_code == 200
    assert second.content == first.content
    # The anon throttle's pipeline, carrying the content version, the stock sequence and
    # the page: no stock change was committed since it was stored, so nothing else.
    assert redis_round_trips == [["INCRBY", "EXPIRE", "GET", "GET", "GET", "GET"]]


def test_a_committed_stock_change_is_visible_on_the_next_request(
    django_assert_num_queries: Any,
) -> None:
    product = make_product(slug="it-tee", stock=7)
    variant = product.variants.get()
    client = APIClient()
    detail = f"{PRODUCTS}it-tee/"
    assert _available(client) == 7
    assert _available(client, detail) == 7
    with django_assert_num_queries(0):  # both are cached now
        assert _available(client) == 7
        assert _available(client, detail) == 7

    with transaction.atomic():
        stock_apply(changes=at_default({variant.pk: -3}), reason="adjust")

    assert _available(client) == 4
    assert _available(client, detail) == 4
    with django_assert_num_queries(0):  # and cached again, with the new value
        assert _available(client) == 4
