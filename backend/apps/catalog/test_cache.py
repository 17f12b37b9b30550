"""Cached product pages are never staler than the last committed stock or catalogue change."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from django.core.cache.backends import locmem
from django.db import transaction
from django.test import override_settings
from rest_framework.test import APIClient

from apps.catalog import services
from apps.catalog.cache import catalog_version
from apps.catalog.factories import make_product
from apps.catalog.models import Product
from apps.catalog.stock import at_default, stock_apply
from apps.orders.factories import CHECKOUT_BODY

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("_catalog_cache_on"),
]

PRODUCTS = "/api/v1/products/"


@pytest.fixture
def _catalog_cache_on():  # type: ignore[no-untyped-def]
    with override_settings(CATALOG_CACHE_SECONDS=2.0):
        yield


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
    cart = api_client.post("/api/v1/carts/", {}, format="json").json()
    api_client.post(
        f"/api/v1/carts/{cart['id']}/items/",
        {"variant_id": variant.pk, "quantity": 2},
        format="json",
    )
    checkout = api_client.post(
        f"/api/v1/carts/{cart['id']}/checkout/",
        {**CHECKOUT_BODY, "email": "a@example.com"},
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
