"""Cached product pages are never staler than the last committed stock or catalogue change."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.core.cache.backends import locmem
from django.db import transaction
from django.test import override_settings
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory

from apps.catalog import cache as catalog_cache
from apps.catalog import services
from apps.catalog.cache import _Entry, _page_key, cached_catalog_response, catalog_version
from apps.catalog.factories import make_product
from apps.catalog.models import Product, Stock
from apps.catalog.stock import at_default, stock_apply
from config.testing import api_cart_with, checkout_body

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("_catalog_cache_on"),
]

PRODUCTS = "/api/v1/products/"


@pytest.fixture
def _catalog_cache_on():  # type: ignore[no-untyped-def]
    with override_settings(CATALOG_CACHE_SECONDS=2.0):
        yield


def _drf_request(path: str) -> Request:
    request = Request(APIRequestFactory().get(path))
    request.accepted_renderer = JSONRenderer()
    request.accepted_media_type = "application/json"
    return request


def _available(client: APIClient, url: str = PRODUCTS) -> int:
    body = client.get(url).json()
    product = body["results"][0] if "results" in body else body
    return int(product["variants"][0]["available"])


def test_a_repeated_list_is_served_from_the_cache(
    api_client: APIClient, django_assert_max_num_queries: object
) -> None:
    make_product(slug="tee", stock=7)
    first = api_client.get(PRODUCTS)
    with django_assert_max_num_queries(0):  # type: ignore[operator]
        second = api_client.get(PRODUCTS)
    assert second.status_code == 200
    assert second.content == first.content


def test_lookups_are_counted_as_hits_and_misses(api_client: APIClient) -> None:
    from prometheus_client import REGISTRY

    def count(result: str) -> float:
        value = REGISTRY.get_sample_value(
            "storefront_catalog_cache_lookups_total", {"result": result}
        )
        return value or 0.0

    make_product(slug="tee", stock=7)
    hits, misses = count("hit"), count("miss")
    for _ in range(3):
        assert api_client.get(PRODUCTS).status_code == 200
    assert (count("hit") - hits, count("miss") - misses) == (2, 1)


def test_stock_change_is_visible_on_the_next_request_after_commit(api_client: APIClient) -> None:
    product = make_product(slug="tee", stock=7)
    variant = product.variants.get()
    assert _available(api_client) == 7
    assert _available(api_client, f"{PRODUCTS}tee/") == 7
    with transaction.atomic():
        stock_apply(changes=at_default({variant.pk: -3}), reason="adjust")
        # Not committed yet: other readers may still see 7, which is the truth until commit.
    assert _available(api_client) == 4
    assert _available(api_client, f"{PRODUCTS}tee/") == 4


def test_checkout_through_the_api_updates_availability_at_once(api_client: APIClient) -> None:
    product = make_product(slug="tee", stock=5)
    variant = product.variants.get()
    assert _available(api_client) == 5
    cart_id = api_cart_with(api_client, variant.pk, quantity=2)
    checkout = api_client.post(
        f"/api/v1/carts/{cart_id}/checkout/",
        checkout_body(email="a@example.com"),
        format="json",
    )
    assert checkout.status_code == 201, checkout.content
    assert _available(api_client) == 3


def test_a_rolled_back_change_does_not_invalidate(api_client: APIClient) -> None:
    make_product(slug="tee", stock=5)
    _available(api_client)
    before = catalog_version()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.product_update(
            product=Product.objects.get(slug="tee"),
            data={"name": "Renamed"},
        )
        raise RuntimeError("rolled back")
    assert catalog_version() == before


def test_without_invalidation_entries_expire_within_the_documented_bound(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.catalog.models import Stock

    product = make_product(slug="tee", stock=5)
    assert _available(api_client) == 5
    # A change that bypasses the services (and so the version bump): only the TTL helps.
    Stock.objects.filter(variant=product.variants.get()).update(on_hand=1)
    assert _available(api_client) == 5  # still the cached page, within the bound
    # The cache's clock moved on by the documented bound (2 s) and a little.
    later = time.time() + 2.1
    monkeypatch.setattr(locmem, "time", SimpleNamespace(time=lambda: later))
    assert _available(api_client) == 1


def test_staff_are_never_served_from_the_cache(staff_client: APIClient) -> None:
    product = make_product(slug="tee", stock=5)
    staff_client.get(PRODUCTS)
    services.product_deactivate(product=product)
    body = staff_client.get(PRODUCTS).json()
    assert body["results"][0]["is_active"] is False


# --- finer invalidation: a stock change empties only the pages showing its variants ----


def test_a_stock_change_leaves_other_products_pages_cached(
    api_client: APIClient, django_assert_max_num_queries: object
) -> None:
    bought = make_product(slug="bought", stock=5)
    other = make_product(slug="other", stock=5)
    assert _available(api_client, f"{PRODUCTS}bought/") == 5
    assert _available(api_client, f"{PRODUCTS}other/") == 5
    with transaction.atomic():
        stock_apply(changes=at_default({bought.variants.get().pk: -2}), reason="adjust")
    # Served from the cache: no SQL at all (the other product's stock did not change).
    Stock.objects.filter(variant=other.variants.get()).update(on_hand=1)  # bypasses bumps
    with django_assert_max_num_queries(0):  # type: ignore[operator]
        assert _available(api_client, f"{PRODUCTS}other/") == 5
    assert _available(api_client, f"{PRODUCTS}bought/") == 3  # its page was invalidated


def test_a_list_filtered_by_stock_follows_any_stock_change(api_client: APIClient) -> None:
    make_product(slug="shown", stock=5)
    hidden = make_product(slug="hidden", stock=0)
    url = f"{PRODUCTS}?in_stock=true"
    assert [p["slug"] for p in api_client.get(url).json()["results"]] == ["shown"]
    with transaction.atomic():  # a variant not on the page comes back in stock
        stock_apply(changes=at_default({hidden.variants.get().pk: 3}), reason="adjust")
    assert sorted(p["slug"] for p in api_client.get(url).json()["results"]) == [
        "hidden",
        "shown",
    ]


def test_a_page_computed_while_stock_changed_is_not_stored() -> None:
    product = make_product(slug="tee", stock=5)
    variant = product.variants.get()
    request = _drf_request(f"{PRODUCTS}tee/")

    def compute() -> Response:
        response = Response({"variants": [{"id": variant.pk}]})
        response.variant_ids = [variant.pk]  # type: ignore[attr-defined]
        # A stock change commits (and bumps) after this page read the database.
        with transaction.atomic():
            stock_apply(changes=at_default({variant.pk: -1}), reason="adjust")
        return response

    cached_catalog_response(request, compute)
    assert cache.get(_page_key(request)) is None


def _computed_elsewhere(
    monkeypatch: pytest.MonkeyPatch, path: str, wait_seconds: float
) -> tuple[Request, str]:
    """A page request and its key, while another request holds the page's lock (computing it);
    a waiter gives up after ``wait_seconds``."""
    monkeypatch.setattr(catalog_cache, "SINGLE_FLIGHT_WAIT_SECONDS", wait_seconds)
    request = _drf_request(path)
    key = _page_key(request)
    cache.add(key + ":lock", 1)
    return request, key


def test_a_miss_is_computed_once_while_another_request_computes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request, key = _computed_elsewhere(monkeypatch, f"{PRODUCTS}x/", 0.5)
    version = catalog_version()

    def store_soon() -> None:
        time.sleep(0.1)
        cache.set(key, _Entry(version, None, False, (), b'{"theirs":true}'))

    thread = threading.Thread(target=store_soon)
    thread.start()
    calls: list[int] = []
    response = cached_catalog_response(request, lambda: calls.append(1) or Response({}))
    thread.join()
    assert (response.content, calls) == (b'{"theirs":true}', [])  # waited, then served it


def test_a_waiter_that_gives_up_computes_without_storing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request, key = _computed_elsewhere(monkeypatch, f"{PRODUCTS}y/", 0.05)
    response = cached_catalog_response(request, lambda: Response({"mine": True}))
    assert response.status_code == 200
    assert cache.get(key) is None  # only the lock holder stores
