"""The product pages built from rows are byte for byte what ``ProductOutputSerializer`` wrote,
with and without the content cache (``page_data``), and stock on them is always fresh."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient

from apps.catalog import selectors, services
from apps.catalog.factories import (
    make_category,
    make_product,
    make_variant,
    make_warehouse,
    receive,
)
from apps.catalog.models import Stock, Variant
from apps.catalog.serializers import ProductOutputSerializer
from apps.catalog.views import ProductViewSet
from apps.pricing.factories import promotion_create
from apps.pricing.models import DiscountKind
from utils.cache_guard import cache_reset
from utils.views import StaffWriteViewSet

PRODUCTS = "/api/v1/products/"


def _serializer_page(view: ProductViewSet, request: Request) -> Response:
    """The list as it was computed before the rows: models, prefetch, the serializer."""
    queryset = StaffWriteViewSet.filter_queryset(view, view.get_queryset())
    page = view.paginate_queryset(queryset)
    view.prices_valid_until = selectors.product_prices_apply(page)
    return view.get_paginated_response(ProductOutputSerializer(page, many=True).data)


def _serializer_detail(view: ProductViewSet, request: Request) -> Response:
    product = view.get_object()
    return Response(ProductOutputSerializer(product).data)


def _catalogue() -> None:
    """Prices with promotions (percentage, fixed, future, ended), inactive variants and
    warehouses, a product without an active variant, unicode, attributes."""
    shirts = make_category("shirts")
    mugs = make_category("mugs")
    tee = make_product("tee", category=shirts, name="Tée «ünïcode» ☕", prices=("19.99", "24.50"))
    variant = tee.variants.order_by("position").first()
    assert variant is not None
    Variant.objects.filter(pk=variant.pk).update(attributes={"size": "M", "colour": "blue"})
    make_variant(product=tee, price="9.99", stock=0, is_active=False)
    mug = make_product("mug", category=mugs, prices=("7.00", "7.00", "12.34"), stock=0)
    closed = make_warehouse(code="closed", is_active=False)
    spare = make_warehouse(code="spare")
    receive(mug.variants.order_by("position").first(), 4, warehouse=closed)  # type: ignore[arg-type]
    receive(mug.variants.order_by("position").last(), 2, warehouse=spare)  # type: ignore[arg-type]
    empty = make_product("empty", category=mugs, prices=("3.00",))
    empty.variants.update(is_active=False)
    make_product("hidden", category=mugs, is_active=False)
    for n in range(5):
        make_product(f"plain-{n}", category=shirts, prices=(f"{n + 1}.50",), stock=n)
    now = timezone.now()
    promotion_create("Mugs", category_ids=[mugs.pk], value=Decimal("15"))
    promotion_create(
        "Tee", kind=DiscountKind.FIXED, value=Decimal("2.00"), variant_ids=[variant.pk]
    )
    promotion_create("Later", product_ids=[tee.pk], starts_at=now + timedelta(days=1))
    promotion_create("Over", product_ids=[tee.pk], ends_at=now - timedelta(days=1))


URLS = [
    PRODUCTS,
    f"{PRODUCTS}?ordering=price",
    f"{PRODUCTS}?page_size=3&page=2",
    f"{PRODUCTS}?in_stock=true",
    f"{PRODUCTS}?in_stock=false&ordering=-price",
    f"{PRODUCTS}?search=tee&category=shirts",
    f"{PRODUCTS}?min_price=2.00&max_price=8.00",
    f"{PRODUCTS}tee/",
    f"{PRODUCTS}mug/",
    f"{PRODUCTS}empty/",
    f"{PRODUCTS}hidden/",
    f"{PRODUCTS}nothing-here/",
    f"{PRODUCTS}?page=99",
    f"{PRODUCTS}?in_stock=maybe",
]


def _responses(client: APIClient, monkeypatch: pytest.MonkeyPatch, *, old: bool) -> list[Any]:
    with monkeypatch.context() as patch:
        if old:
            patch.setattr(ProductViewSet, "_page", _serializer_page)
            patch.setattr(ProductViewSet, "_detail", _serializer_detail)
        return [(url, *(r.status_code, r.content)) for url in URLS for r in [client.get(url)]]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "staff"])
def test_pages_from_rows_are_the_serializers_bytes(
    who: str, api_client: APIClient, staff_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _catalogue()
    client = staff_client if who == "staff" else api_client
    before = _responses(client, monkeypatch, old=True)
    assert [status for _, status, _ in before].count(200) >= 10  # the pages exist
    assert _responses(client, monkeypatch, old=False) == before
    cache.clear()
    with override_settings(CATALOG_DATA_CACHE_SECONDS=60.0):
        assert _responses(client, monkeypatch, old=False) == before  # content stored
        assert _responses(client, monkeypatch, old=False) == before  # content from the cache


@pytest.mark.django_db
def test_a_computed_page_stored_under_its_content_version_costs_1_query(
    api_client: APIClient, django_assert_num_queries: Any
) -> None:
    category = make_category("all")
    for n in range(25):
        make_product(f"p-{n}", category=category, prices=("1.00", "2.00", "3.00"))
    promotion_create("All", category_ids=[category.pk])
    cache.clear()
    with override_settings(CATALOG_DATA_CACHE_SECONDS=60.0):
        # count, page, variants with their stock, categories, promotions (then stored)
        with django_assert_num_queries(5):
            first = api_client.get(PRODUCTS)
        # stock: the page's rows, their content and the count are stored
        with django_assert_num_queries(1):
            second = api_client.get(PRODUCTS)
        # page, variants with their stock: the count, categories and promotions are stored
        with django_assert_num_queries(2):
            other = api_client.get(f"{PRODUCTS}?page=2")
        with django_assert_num_queries(1):
            again = api_client.get(f"{PRODUCTS}?page=2")
        api_client.get(f"{PRODUCTS}?ordering=price&page_size=5")
        with django_assert_num_queries(1):  # any filter but in_stock: the same way
            api_client.get(f"{PRODUCTS}?ordering=price&page_size=5")
    assert first.content == second.content
    assert other.content == again.content
    assert len(second.json()["results"]) == 20
    assert [p["slug"] for p in other.json()["results"]] == [f"p-{n}" for n in range(4, -1, -1)]
    assert second.json()["results"][0]["variants"][0]["price"] == "0.80"  # 20 % off


@pytest.mark.django_db
def test_stock_is_never_cached_with_the_content(api_client: APIClient) -> None:
    product = make_product("tee", prices=("5.00",), stock=3)
    cache.clear()
    with override_settings(CATALOG_DATA_CACHE_SECONDS=60.0):
        assert api_client.get(f"{PRODUCTS}tee/").json()["variants"][0]["available"] == 3
        assert api_client.get(f"{PRODUCTS}?in_stock=false").json()["count"] == 0
        api_client.get(PRODUCTS)
        assert api_client.get(PRODUCTS).json()["results"][0]["in_stock"] is True  # stored page
        # Written behind the services' back (no invalidation at all): still seen at once.
        Stock.objects.filter(variant__product=product).update(on_hand=0)
        body = api_client.get(f"{PRODUCTS}tee/").json()
        listed = api_client.get(PRODUCTS).json()["results"][0]
        sold_out = api_client.get(f"{PRODUCTS}?in_stock=false").json()
    assert (body["in_stock"], body["variants"][0]["available"]) == (False, 0)
    assert (listed["in_stock"], listed["variants"][0]["available"]) == (False, 0)
    assert [p["slug"] for p in sold_out["results"]] == ["tee"]  # never a stored count


@pytest.mark.django_db(transaction=True)
def test_a_committed_catalogue_change_is_seen_by_the_next_page() -> None:
    client = APIClient()
    product = make_product("tee", prices=("5.00",))
    cache.clear()
    with override_settings(CATALOG_DATA_CACHE_SECONDS=60.0):
        assert client.get(PRODUCTS).json()["results"][0]["variants"][0]["price"] == "5.00"
        variant = product.variants.get()
        with transaction.atomic():
            services.variant_update(variant=variant, data={"price": Decimal("6.00")})
        body = client.get(PRODUCTS).json()
        make_product("mug", prices=("3.00",))  # committed: a new count
        listed = client.get(PRODUCTS).json()
        client.get(PRODUCTS)  # the page stored under this version
        with transaction.atomic():
            services.product_update(product=product, data={"name": "Tee, renamed"})
        renamed = client.get(PRODUCTS).json()
        with transaction.atomic():
            services.product_deactivate(product=product)
        gone = client.get(PRODUCTS).json()
    assert body["results"][0]["variants"][0]["price"] == "6.00"
    assert body["results"][0]["price_undiscounted"] == "6.00"
    assert (listed["count"], listed["results"][0]["slug"]) == (2, "mug")
    assert [p["name"] for p in renamed["results"]][1:] == ["Tee, renamed"]
    assert (gone["count"], [p["slug"] for p in gone["results"]]) == (1, ["mug"])


@pytest.mark.django_db
def test_the_content_cache_down_serves_from_the_database(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_product("tee", prices=("5.00",), stock=2)
    expected = api_client.get(f"{PRODUCTS}tee/").content
    expected_list = api_client.get(PRODUCTS).content
    with override_settings(CATALOG_DATA_CACHE_SECONDS=60.0):
        api_client.get(PRODUCTS)  # the list page stored, then unreadable below

    def down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get_many", down)
    try:
        with override_settings(CATALOG_DATA_CACHE_SECONDS=60.0):
            response = api_client.get(f"{PRODUCTS}tee/")
            cache_reset()
            listed = api_client.get(PRODUCTS)
    finally:
        cache_reset()  # the failure rested the cache for this process
    assert (response.status_code, response.content) == (200, expected)
    assert (listed.status_code, listed.content) == (200, expected_list)


@pytest.mark.django_db
def test_a_stored_page_is_not_served_past_its_next_promotion_change(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    product = make_product("tee", prices=("10.00",))
    start = timezone.now() + timedelta(hours=1)
    promotion_create("Soon", product_ids=[product.pk], value=Decimal("50"), starts_at=start)
    cache.clear()
    with override_settings(CATALOG_DATA_CACHE_SECONDS=600.0):
        before = api_client.get(PRODUCTS).json()["results"][0]
        assert api_client.get(PRODUCTS).json()["results"][0] == before  # the stored page
        later = start + timedelta(seconds=1)
        monkeypatch.setattr(timezone, "now", lambda: later)
        after = api_client.get(PRODUCTS).json()["results"][0]
    assert (before["price"], before["variants"][0]["price"]) == ("10.00", "10.00")
    assert (after["price"], after["variants"][0]["price"]) == ("5.00", "5.00")
    assert after["price_undiscounted"] == "10.00"
