"""The stock lock hold time of each checkout is measured, and measuring never fails one."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from apps.cart.factories import cart_create
from apps.catalog.factories import on_hand, variant_create
from apps.orders import metrics
from apps.orders.factories import CHECKOUT_BODY, checkout_url
from apps.orders.models import Order

pytestmark = pytest.mark.django_db

NAME = "storefront_checkout_stock_lock_seconds"


def _sample(suffix: str) -> float:
    return REGISTRY.get_sample_value(f"{NAME}_{suffix}") or 0.0


def test_a_checkout_records_how_long_it_held_the_stock_rows(
    api_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    variant = variant_create(sku="TEE-S", stock=3)
    cart = cart_create(lines=[(variant, 1)])
    count, total = _sample("count"), _sample("sum")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert response.status_code == 201, response.content
    assert _sample("count") == count  # the locks are held until the commit
    callbacks[0]()  # the first hook after COMMIT, before publishing anything
    assert _sample("count") == count + 1
    assert 0 < _sample("sum") - total < 5  # seconds: one short transaction


def test_committed_checkouts_are_counted_and_replays_are_not(
    api_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    variant = variant_create(sku="TEE-S", stock=3)
    cart = cart_create(lines=[(variant, 1)])
    before = REGISTRY.get_sample_value("storefront_checkouts_total") or 0.0
    headers = {"HTTP_IDEMPOTENCY_KEY": "metrics-checkout-1"}
    with django_capture_on_commit_callbacks(execute=True):
        first = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json", **headers)
        replay = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json", **headers)
    assert first.status_code == replay.status_code == 201
    assert replay.json()["id"] == first.json()["id"]
    assert REGISTRY.get_sample_value("storefront_checkouts_total") == before + 1


def test_a_refused_checkout_records_nothing(api_client: APIClient) -> None:
    variant = variant_create(sku="TEE-S", stock=1)
    cart = cart_create(lines=[(variant, 2)])
    count = _sample("count")
    response = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "out_of_stock"
    assert _sample("count") == count


def test_a_broken_metric_does_not_fail_the_checkout(
    api_client: APIClient,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(_: float) -> None:
        raise OSError("metrics directory is gone")

    monkeypatch.setattr(metrics.STOCK_LOCK_SECONDS, "observe", broken)
    variant = variant_create(sku="TEE-S", stock=3)
    cart = cart_create(lines=[(variant, 1)])
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.PENDING_PAYMENT
    assert on_hand(variant) == 2  # the stock was taken: the order stands
    assert "could not record the stock lock time" in caplog.text
