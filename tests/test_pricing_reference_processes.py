"""The pricing rule tables kept per process hold across real processes.

Two gunicorn workers (production settings, the real Redis cache) keep their own copies
of the tax rates and shipping methods; this test process writes the rows, as the admin
or a shell in another process would. The very next answers of both workers show the
new rules, and checkout charges what the cart then shows.
"""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from apps.catalog.factories import variant_create
from apps.orders.factories import CHECKOUT_BODY
from apps.pricing.factories import tax_rate_create
from apps.pricing.models import ShippingMethod, TaxRate
from apps.pricing.reference import pricing_reference_changed
from tests.processes import Gunicorn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(_test_db_name: str) -> Iterator[Gunicorn]:
    gunicorn = Gunicorn(_test_db_name, workers=2, env={"PRICING_REFERENCE_CACHE_SECONDS": "600"})
    gunicorn.start()
    try:
        yield gunicorn
    finally:
        gunicorn.stop()


def _call(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    headers = {"Content-Type": "application/json", "Connection": "close"}
    if method == "POST" and url.endswith("/checkout/"):
        headers["Idempotency-Key"] = "pricing-reference-processes-1"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 201)
        return json.loads(response.read())


def _many(url: str, count: int = 24) -> list[Any]:
    """``count`` reads, 4 at a time, so that both workers answer some of them."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda _: _call(url), range(count)))


def test_a_committed_rule_change_is_seen_by_every_worker_at_once(server: Gunicorn) -> None:
    variant = variant_create(sku="REF-IT-1", price="11.90", stock=20)
    tax_rate_create("DE", "19.00")
    cart = _call(f"{server.url}/api/v1/carts/", "POST", {})
    cart_url = f"{server.url}/api/v1/carts/{cart['id']}/"
    _call(f"{cart_url}items/", "POST", {"variant_id": variant.pk, "quantity": 2})
    methods_url = f"{cart_url}shipping-methods/?country=DE"

    assert {body["summary"]["tax"] for body in _many(cart_url)} == {"3.80"}
    assert {len(methods) for methods in _many(methods_url)} == {2}

    rate = TaxRate.objects.get(country="DE")
    rate.rate = Decimal("7.00")
    rate.save()  # committed (no test transaction here): bumps the shared version
    ShippingMethod.objects.filter(code="express").update(is_active=False)
    pricing_reference_changed()  # an update sends no signal: the documented call

    assert {body["summary"]["tax"] for body in _many(cart_url)} == {"1.56"}
    assert {tuple(m["code"] for m in methods) for methods in _many(methods_url)} == {("standard",)}

    shown = _call(cart_url)["items"][0]
    order = _call(f"{cart_url}checkout/", "POST", copy.deepcopy(CHECKOUT_BODY))
    line = order["lines"][0]
    assert (line["tax_rate"], line["tax"]) == (shown["tax_rate"], shown["tax"]) == ("7.00", "1.56")
