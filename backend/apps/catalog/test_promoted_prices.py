"""Product list and detail show promoted prices the way the cart charges them (issue 16)."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from apps.cart.factories import cart_create
from apps.catalog import selectors
from apps.catalog.cache import _entry_ttl
from apps.catalog.factories import make_category, make_product
from apps.pricing.factories import promotion_create

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products/"


def _variant_prices(body: dict) -> list[tuple[str, str]]:
    return [(v["price"], v["price_undiscounted"]) for v in body["variants"]]


def test_without_promotions_price_and_price_undiscounted_are_equal(
    api_client: APIClient,
) -> None:
    make_product("tee", prices=("19.99", "24.50"))
    body = api_client.get(f"{PRODUCTS}tee/").json()
    assert (body["price"], body["price_undiscounted"]) == ("19.99", "19.99")
    assert _variant_prices(body) == [("19.99", "19.99"), ("24.50", "24.50")]


def test_the_best_single_running_promotion_sets_each_variant_price(
    api_client: APIClient,
) -> None:
    product = make_product("tee", prices=("20.00", "30.00"))
    dear = product.variants.get(price=Decimal("30.00"))
    promotion_create("Tee 10%", value=Decimal("10"), product_ids=[product.pk])
    promotion_create("Dear 5 off", kind="fixed", value=Decimal("5.00"), variant_ids=[dear.pk])
    # Not stacked with the 10 %: the larger of the two (5.00 > 3.00) wins for the dear one.
    body = api_client.get(f"{PRODUCTS}tee/").json()
    assert _variant_prices(body) == [("18.00", "20.00"), ("25.00", "30.00")]
    assert (body["price"], body["price_undiscounted"]) == ("18.00", "20.00")
    listed = api_client.get(PRODUCTS).json()["results"][0]
    assert (listed["price"], listed["price_undiscounted"]) == ("18.00", "20.00")
    assert _variant_prices(listed) == _variant_prices(body)


def test_the_lowest_price_is_the_lowest_after_promotions(api_client: APIClient) -> None:
    product = make_product("mug", prices=("10.00", "12.00"))
    dear = product.variants.get(price=Decimal("12.00"))
    promotion_create("Half off", value=Decimal("50"), variant_ids=[dear.pk])
    body = api_client.get(f"{PRODUCTS}mug/").json()
    assert (body["price"], body["price_undiscounted"]) == ("6.00", "12.00")


def test_category_promotions_apply_and_windows_and_inactive_ones_do_not(
    api_client: APIClient,
) -> None:
    category = make_category("sale")
    make_product("cap", category=category, prices=("10.00",))
    now = timezone.now()
    promotion_create("Later", value=Decimal("90"), category_ids=[category.pk],
                     starts_at=now + timedelta(hours=1))  # fmt: skip
    promotion_create("Over", value=Decimal("90"), category_ids=[category.pk],
                     ends_at=now - timedelta(hours=1))  # fmt: skip
    promotion_create("Off", value=Decimal("90"), category_ids=[category.pk], is_active=False)
    promotion_create("Now", value=Decimal("25"), category_ids=[category.pk])
    body = api_client.get(f"{PRODUCTS}cap/").json()
    assert _variant_prices(body) == [("7.50", "10.00")]


def test_the_product_page_shows_the_unit_price_the_cart_charges(api_client: APIClient) -> None:
    product = make_product("sock", prices=("3.33",))
    variant = product.variants.get()
    promotion_create("Odd", value=Decimal("15"), product_ids=[product.pk])
    cart = cart_create(lines=[(variant, 1)])
    line = api_client.get(f"/api/v1/carts/{cart.pk}/").json()["items"][0]
    body = api_client.get(f"{PRODUCTS}sock/").json()
    assert body["variants"][0]["price"] == line["unit_price"] == "2.83"
    assert body["variants"][0]["price_undiscounted"] == line["undiscounted_unit_price"]


def test_staff_variant_endpoints_keep_the_price_as_entered(
    staff_client: APIClient,
) -> None:
    product = make_product("hat", prices=("40.00",))
    variant = product.variants.get()
    promotion_create("Hat sale", value=Decimal("50"), product_ids=[product.pk])
    body = staff_client.get(f"/api/v1/variants/{variant.pk}/").json()
    assert body["price"] == "40.00"
    assert "price_undiscounted" not in body
    staff_view = staff_client.get(f"{PRODUCTS}hat/").json()
    assert _variant_prices(staff_view) == [("20.00", "40.00")]


@pytest.mark.parametrize("promotions", [0, 30])
def test_promoted_prices_cost_one_query_whatever_the_page_and_promotions(
    api_client: APIClient, django_assert_num_queries, promotions: int
) -> None:
    category = make_category("budget")
    products = [make_product(f"p-{n:02d}", category=category, prices=("10.00", "11.00"))
                for n in range(20)]  # fmt: skip
    for n in range(promotions):
        promotion_create(f"P{n}", value=Decimal(n % 50 + 1), product_ids=[products[n % 20].pk])
    # count, products, variants, promotions
    with django_assert_num_queries(4):
        response = api_client.get(PRODUCTS, {"page_size": 20})
    assert len(response.json()["results"]) == 20
    with django_assert_num_queries(3):  # product, variants, promotions
        api_client.get(f"{PRODUCTS}p-00/")


def test_prices_apply_returns_the_next_promotion_boundary() -> None:
    product = make_product("boundary", prices=("10.00",))
    now = timezone.now()
    assert selectors.product_prices_apply([], now=now) is None
    ends = now + timedelta(minutes=5)
    starts = now + timedelta(minutes=2)
    promotion_create("Ends", value=Decimal("10"), product_ids=[product.pk], ends_at=ends)
    promotion_create("Starts", value=Decimal("20"), product_ids=[product.pk], starts_at=starts)
    promotion_create("Past", value=Decimal("30"), ends_at=now - timedelta(minutes=1))
    page = list(selectors.product_list().filter(pk=product.pk))
    assert selectors.product_prices_apply(page, now=now) == starts
    assert page[0].sale_price == Decimal("9.00")
    later = list(selectors.product_list().filter(pk=product.pk))
    assert selectors.product_prices_apply(later, now=starts) == ends
    assert later[0].sale_price == Decimal("8.00")


def test_a_cache_entry_never_outlives_the_next_promotion_boundary() -> None:
    now = timezone.now()
    assert _entry_ttl(30.0, None) == 30.0
    assert _entry_ttl(30.0, now + timedelta(seconds=10, milliseconds=500)) == 10
    assert _entry_ttl(30.0, now + timedelta(hours=1)) == 30.0
    assert _entry_ttl(30.0, now + timedelta(milliseconds=400)) == 0


@pytest.mark.django_db(transaction=True)
@override_settings(CATALOG_CACHE_SECONDS=30.0)
def test_a_cached_page_shows_a_promotion_once_it_starts_or_is_written(
    api_client: APIClient, staff_client: APIClient
) -> None:
    product = make_product("clock", prices=("10.00",))
    first = api_client.get(f"{PRODUCTS}clock/").json()
    assert first["price"] == "10.00"
    # A staff write of a promotion invalidates the cached page at once.
    created = staff_client.post(
        "/api/v1/pricing/promotions/",
        {"name": "Clock", "kind": "percentage", "value": "10", "product_ids": [product.pk]},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert api_client.get(f"{PRODUCTS}clock/").json()["price"] == "9.00"
    # One that starts in 2.5 s: the page computed now is cached for 2 s, not 30.
    starts = timezone.now() + timedelta(seconds=2.5)
    promotion_create(
        "Soon", kind="fixed", value=Decimal("5.00"), product_ids=[product.pk], starts_at=starts
    )  # fmt: skip  (the factory bumps nothing)
    staff_client.post(  # a catalogue write: the cached 9.00 page goes
        "/api/v1/pricing/promotions/",
        {"name": "Other", "kind": "percentage", "value": "1", "product_ids": [product.pk]},
        format="json",
    )
    assert api_client.get(f"{PRODUCTS}clock/").json()["price"] == "9.00"
    assert api_client.get(f"{PRODUCTS}clock/").json()["price"] == "9.00"  # cached
    time.sleep(max(0.0, (starts - timezone.now()).total_seconds()) + 0.1)
    assert api_client.get(f"{PRODUCTS}clock/").json()["price"] == "5.00"
