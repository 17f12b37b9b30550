"""Checkout under real concurrency on PostgreSQL: never oversold, never two orders.

Each request runs in its own thread through the whole stack (Django test client:
middleware, DRF, JWT, throttles, idempotency) on its own database connection,
which the thread closes. Threads start together behind a barrier. The capture
tasks published after commit wait in Redis (no worker here): capture is not under
test, the placement is.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client

from apps.accounts.factories import jwt_headers
from apps.accounts.models import User
from apps.cart.factories import cart_create
from apps.cart.models import Cart
from apps.catalog.factories import make_warehouse, receive, variant_create
from apps.catalog.models import Stock, StockMovement, Variant
from apps.core.models import IdempotencyRecord
from apps.orders.factories import CHECKOUT_BODY, checkout_url
from apps.orders.models import Allocation, Order
from tests.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)

Outcome = tuple[int, dict[str, Any], dict[str, str]]


_addresses = itertools.count(1)


def _post(url: str, body: dict[str, Any], **headers: str) -> Callable[[], Outcome]:
    """A request from a buyer of its own (own address: the anon/checkout throttles are
    per client and hold in these tests, as in production)."""

    def call() -> Outcome:
        n = next(_addresses)
        client = Client(REMOTE_ADDR=f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}")
        response = client.post(url, body, content_type="application/json", **headers)
        return response.status_code, response.json(), dict(response.headers)

    return call


def _codes(outcomes: list[Outcome]) -> Counter[str]:
    return Counter(
        str(status) if status < 300 else f"{status} {body['error']}" for status, body, _ in outcomes
    )


def _ledger_sum(variant: Variant) -> int:
    return int(StockMovement.objects.filter(variant=variant).aggregate(s=Sum("quantity"))["s"])


def _bearer(user: User) -> dict[str, str]:
    return jwt_headers(user)


@pytest.mark.parametrize("round_number", [1, 2, 3])
def test_forty_buyers_of_the_last_five_units_make_exactly_five_orders(round_number: int) -> None:
    variant = variant_create(sku=f"LAST-FIVE-{round_number}", stock=5)
    carts = [cart_create(lines=[(variant, 1)]) for _ in range(40)]

    outcomes = run_together([_post(checkout_url(cart), CHECKOUT_BODY) for cart in carts])

    assert _codes(outcomes) == {"201": 5, "409 out_of_stock": 35}
    refused = [body for status, body, _ in outcomes if status == 409]
    assert all(b["details"]["variants"][0]["variant_id"] == variant.pk for b in refused)
    assert Stock.objects.get(variant=variant).on_hand == 0
    assert _ledger_sum(variant) == 0
    assert StockMovement.objects.filter(variant=variant, reason="sale").count() == 5
    assert Order.objects.filter(lines__variant=variant).count() == 5
    assert Cart.objects.filter(pk__in=[c.pk for c in carts], status="checked_out").count() == 5


def test_twenty_buyers_of_five_units_over_two_warehouses_make_exactly_five_orders() -> None:
    """Issue 18: the oversell proof with the stock split (2 in the default warehouse,
    3 in a second, lower priority one); lines may be split over both."""
    variant = variant_create(sku="SPLIT-FIVE", stock=2)
    second = make_warehouse(code="second", priority=10)
    receive(variant, 3, warehouse=second)
    carts = [cart_create(lines=[(variant, 1)]) for _ in range(20)]

    outcomes = run_together([_post(checkout_url(cart), CHECKOUT_BODY) for cart in carts])

    assert _codes(outcomes) == {"201": 5, "409 out_of_stock": 15}
    assert list(Stock.objects.filter(variant=variant).values_list("on_hand", flat=True)) == [0, 0]
    assert _ledger_sum(variant) == 0
    for row in Stock.objects.filter(variant=variant):
        ledger = StockMovement.objects.filter(variant=variant, warehouse=row.warehouse_id)
        assert ledger.aggregate(s=Sum("quantity"))["s"] == 0
    assert StockMovement.objects.filter(variant=variant, reason="sale").count() == 5
    allocated = Allocation.objects.filter(line__variant=variant)
    assert allocated.aggregate(s=Sum("quantity"))["s"] == 5
    assert allocated.filter(warehouse=second).aggregate(s=Sum("quantity"))["s"] == 3
    assert Order.objects.filter(lines__variant=variant).count() == 5


def test_split_lines_over_two_warehouses_in_opposite_orders_do_not_deadlock() -> None:
    """Each buyer takes 2 units of A and B, each held 1 + many over two warehouses, so
    every checkout locks four rows; (variant, warehouse) order keeps them queueing."""
    first = variant_create(sku="WPAIR-A", stock=10)
    second = variant_create(sku="WPAIR-B", stock=10)
    north = make_warehouse(code="north", priority=0)
    receive(first, 30, warehouse=north)
    receive(second, 30, warehouse=north)
    carts = [
        cart_create(lines=[(first, 2), (second, 2)] if n % 2 else [(second, 2), (first, 2)])
        for n in range(16)
    ]

    outcomes = run_together([_post(checkout_url(cart), CHECKOUT_BODY) for cart in carts])

    assert _codes(outcomes) == {"201": 16}
    for variant in (first, second):
        assert sum(Stock.objects.filter(variant=variant).values_list("on_hand", flat=True)) == 8
        assert _ledger_sum(variant) == 8


def test_carts_locking_the_same_variants_in_opposite_orders_do_not_deadlock() -> None:
    first = variant_create(sku="PAIR-A", stock=100)
    second = variant_create(sku="PAIR-B", stock=100)
    # Half the carts hold (A, B), the other half (B, A): the item ids run both ways.
    carts = [
        cart_create(lines=[(first, 1), (second, 1)] if n % 2 else [(second, 1), (first, 1)])
        for n in range(20)
    ]

    outcomes = run_together([_post(checkout_url(cart), CHECKOUT_BODY) for cart in carts])

    assert _codes(outcomes) == {"201": 20}
    for variant in (first, second):
        assert Stock.objects.get(variant=variant).on_hand == 80
        assert _ledger_sum(variant) == 80


def test_the_same_cart_checked_out_ten_times_at_once_makes_one_order() -> None:
    variant = variant_create(sku="DOUBLE-CLICK", stock=10)
    cart = cart_create(lines=[(variant, 2)])

    outcomes = run_together([_post(checkout_url(cart), CHECKOUT_BODY) for _ in range(10)])

    assert _codes(outcomes) == {"201": 1, "409 invalid_state": 9}
    assert Order.objects.filter(cart=cart).count() == 1
    assert Stock.objects.get(variant=variant).on_hand == 8
    assert _ledger_sum(variant) == 8


def test_the_same_idempotency_key_ten_times_at_once_makes_one_order() -> None:
    variant = variant_create(sku="SAME-KEY", stock=10)
    cart = cart_create(lines=[(variant, 1)])
    call = _post(checkout_url(cart), CHECKOUT_BODY, HTTP_IDEMPOTENCY_KEY="checkout-attempt-1")

    outcomes = run_together([call] * 10)

    created = [body for status, body, headers in outcomes if status == 201]
    originals = [o for o in outcomes if o[0] == 201 and "Idempotent-Replayed" not in o[2]]
    assert len(originals) == 1
    assert all(body == originals[0][1] for body in created)  # replays are identical
    assert set(_codes(outcomes)) <= {"201", "409 idempotency_in_progress"}
    assert Order.objects.filter(cart=cart).count() == 1
    assert Stock.objects.get(variant=variant).on_hand == 9
    record = IdempotencyRecord.objects.get(owner=f"cart:{cart.pk}")
    assert (record.status, record.response_status) == ("completed", 201)
    # After the dust settles, every retry is the same replay.
    status, body, headers = call()
    assert (status, body, headers["Idempotent-Replayed"]) == (201, originals[0][1], "true")


def test_two_orders_cancelled_at_once_with_checkouts_keep_the_ledger_exact() -> None:
    variant = variant_create(sku="CANCEL-RACE", stock=6)
    placed = [
        _post(checkout_url(cart_create(lines=[(variant, 2)])), CHECKOUT_BODY)() for _ in range(2)
    ]
    newcomers = [cart_create(lines=[(variant, 2)]) for _ in range(4)]
    cancels = [
        _post(f"/api/v1/orders/{body['id']}/cancel/", {}, HTTP_X_ORDER_TOKEN=body["access_token"])
        for _, body, _ in placed
    ]
    same_cancel_twice = [*cancels, cancels[0]]

    outcomes = run_together(
        same_cancel_twice + [_post(checkout_url(cart), CHECKOUT_BODY) for cart in newcomers]
    )

    cancelled = [o for o in outcomes[:3] if o[0] == 200]
    assert len(cancelled) == 2  # the repeated cancel is a 409, released nothing twice
    on_hand = Stock.objects.get(variant=variant).on_hand
    assert on_hand >= 0
    assert on_hand == _ledger_sum(variant)
    open_orders = Order.objects.filter(lines__variant=variant, status="pending_payment").count()
    assert on_hand == 6 - 2 * open_orders


def test_another_users_order_and_cart_are_404_on_every_verb() -> None:
    owner = User.objects.create_user(email="owner@example.com", password="x-long-password-1")
    intruder = User.objects.create_user(email="intruder@example.com", password="x-long-pass-2")
    variant = variant_create(sku="PRIVATE", stock=5)
    cart = cart_create(user=owner, lines=[(variant, 1)])
    status, order, _ = _post(checkout_url(cart), CHECKOUT_BODY, **_bearer(owner))()
    assert status == 201
    client = Client(**_bearer(intruder))
    base = f"/api/v1/orders/{order['id']}/"

    responses = {
        "GET order": client.get(base),
        "GET events": client.get(f"{base}events/"),
        "POST cancel": client.post(f"{base}cancel/", {}, content_type="application/json"),
        "POST fulfil": client.post(
            f"{base}fulfil/",
            {"carrier": "x", "tracking_number": "y"},
            content_type="application/json",
        ),
        "POST pay": client.post(f"{base}pay/", {}, content_type="application/json"),
        "GET cart": client.get(f"/api/v1/carts/{cart.pk}/"),
        "POST checkout": client.post(
            checkout_url(cart), CHECKOUT_BODY, content_type="application/json"
        ),
    }

    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(responses, 404)
    assert all(r.json()["error"] == "not_found" for r in responses.values())
    assert client.get("/api/v1/orders/").json()["results"] == []
    assert Order.objects.get(pk=order["id"]).status == "pending_payment"
    assert Stock.objects.get(variant=variant).on_hand == 4
