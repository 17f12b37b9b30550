"""The pricing rule tables kept per process (``apps.pricing.reference``): a warm cart answer
reads no rule table, and any write (model save, the staff API, the admin, an ``update``
followed by ``pricing_reference_changed``) is seen by the very next read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from apps.cart.factories import cart_create
from apps.cart.models import Cart
from apps.catalog.factories import variant_create
from apps.pricing import reference
from apps.pricing.factories import promotion_create, tax_rate_create
from apps.pricing.models import ShippingMethod, TaxRate
from apps.pricing.reference import TABLES, pricing_reference_changed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _copies_on() -> Iterator[None]:
    for table in TABLES:
        table.forget()
    with override_settings(PRICING_REFERENCE_CACHE_SECONDS=60.0):
        yield
    for table in TABLES:
        table.forget()


@pytest.fixture
def cart() -> Cart:
    variant = variant_create(sku="REF-1", price="11.90", stock=20)
    tax_rate_create("DE", "19.00")
    cart = cart_create()
    cart.items.create(variant=variant, quantity=2)
    return cart


def _get(client: APIClient, cart: Cart, suffix: str = "") -> Any:
    response = client.get(f"/api/v1/carts/{cart.pk}/{suffix}")
    assert response.status_code == 200, response.content
    return response.json()


def _tax(body: dict[str, Any]) -> str:
    return str(body["summary"]["tax"])


def test_a_warm_cart_answer_reads_no_rule_table(
    api_client: APIClient, cart: Cart, django_assert_num_queries: Any
) -> None:
    with override_settings(PRICING_REFERENCE_CACHE_SECONDS=0.0):
        cold = _get(api_client, cart)
    with django_assert_num_queries(4):  # copies missing: cart, lines, promotions, tax rates
        first = _get(api_client, cart)
    with django_assert_num_queries(2):  # the cart and its lines only
        second = _get(api_client, cart)
    assert first == second == cold


def test_a_saved_rate_is_seen_by_the_next_read(api_client: APIClient, cart: Cart) -> None:
    before = _tax(_get(api_client, cart))
    rate = TaxRate.objects.get(country="DE")
    rate.rate = Decimal("7.00")
    rate.save()
    after = _tax(_get(api_client, cart))
    assert (before, after) == ("3.80", "1.56")  # 23.80 gross at 19 %, then at 7 %


def test_an_update_without_signals_is_seen_after_pricing_reference_changed(
    api_client: APIClient, cart: Cart
) -> None:
    assert _tax(_get(api_client, cart)) == "3.80"
    TaxRate.objects.filter(country="DE").update(rate=Decimal("7.00"))
    assert _tax(_get(api_client, cart)) == "3.80"  # the documented gap: no signal, no bump
    pricing_reference_changed()
    assert _tax(_get(api_client, cart)) == "1.56"


def test_a_deleted_rate_is_seen_by_the_next_read(api_client: APIClient, cart: Cart) -> None:
    assert _tax(_get(api_client, cart)) == "3.80"
    TaxRate.objects.get(country="DE").delete()
    assert _tax(_get(api_client, cart)) == "0.00"


def test_staff_writes_through_the_api_are_seen_by_the_next_read(
    api_client: APIClient, cart: Cart, staff_client: APIClient
) -> None:
    methods = _get(api_client, cart, "shipping-methods/?country=DE")
    assert {m["code"] for m in methods} == {"standard", "express"}
    method = ShippingMethod.objects.get(code="express")
    response = staff_client.patch(
        f"/api/v1/pricing/shipping-methods/{method.pk}/", {"is_active": False}, format="json"
    )
    assert response.status_code == 200, response.content
    methods = _get(api_client, cart, "shipping-methods/?country=DE")
    assert {m["code"] for m in methods} == {"standard"}


def test_admin_writes_are_seen_by_the_next_read(
    api_client: APIClient, cart: Cart, staff: Any, client: Any
) -> None:
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client.force_login(staff)
    assert _get(api_client, cart)["summary"]["discount"] == "0.00"
    response = client.post(
        "/admin/pricing/promotion/add/",
        {  # as the browser posts the form: two id lists and the window left blank
            "name": "Admin sale",
            "kind": "percentage",
            "value": "50",
            "variant_ids": f"[{cart.items.get().variant_id}]",
            "product_ids": "",
            "category_ids": "",
            "starts_at_0": "",
            "starts_at_1": "",
            "ends_at_0": "",
            "ends_at_1": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    body = _get(api_client, cart)
    assert body["items"][0]["unit_price"] == "5.95"


def test_a_promotion_ends_by_the_clock_with_no_write(
    api_client: APIClient, cart: Cart, django_assert_num_queries: Any, monkeypatch: Any
) -> None:
    now = timezone.now()
    promotion_create(
        value=Decimal("50"),
        variant_ids=[cart.items.get().variant_id],
        ends_at=now + timedelta(minutes=5),
    )
    assert _get(api_client, cart)["items"][0]["unit_price"] == "5.95"
    later = now + timedelta(minutes=6)
    monkeypatch.setattr("apps.cart.selectors.timezone.now", lambda: later)
    with django_assert_num_queries(2):  # still the kept copy: the clock is applied at use
        body = _get(api_client, cart)
    assert body["items"][0]["unit_price"] == "11.90"


def test_a_copy_lives_no_longer_than_the_setting(
    api_client: APIClient, cart: Cart, django_assert_num_queries: Any, monkeypatch: Any
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(reference.time, "monotonic", lambda: clock[0])
    _get(api_client, cart)
    clock[0] += 59.0
    with django_assert_num_queries(2):
        _get(api_client, cart)
    clock[0] += 2.0  # 61 s after it was read: past PRICING_REFERENCE_CACHE_SECONDS
    with django_assert_num_queries(4):
        _get(api_client, cart)


def test_a_lost_version_starts_a_fresh_series(
    api_client: APIClient, cart: Cart, django_assert_num_queries: Any
) -> None:
    _get(api_client, cart)
    cache.clear()  # an evicted or flushed shared cache: no copy may match any more
    with django_assert_num_queries(4):
        _get(api_client, cart)


def test_with_the_shared_cache_down_every_read_goes_to_the_database(
    api_client: APIClient, cart: Cart, django_assert_num_queries: Any, monkeypatch: Any
) -> None:
    assert _tax(_get(api_client, cart)) == "3.80"

    def down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "incr", down)
    monkeypatch.setattr("utils.cache_guard._down_until", 0.0)
    rate = TaxRate.objects.get(country="DE")
    rate.rate = Decimal("7.00")
    rate.save()  # the bump fails (counted, logged); the write is not refused
    with django_assert_num_queries(4):
        assert _tax(_get(api_client, cart)) == "1.56"
