"""Fulfilment under real concurrency on PostgreSQL: never more shipped than ordered,
never a unit moved twice, stock and ledger equal in every warehouse.

Each request runs in its own thread through the whole stack (Django test client,
JWT, DRF) on its own database connection; threads start together behind a barrier.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Sum
from django.test import Client

from apps.accounts.factories import UserFactory, jwt_headers
from apps.catalog.factories import make_warehouse, receive, variant_create
from apps.catalog.models import Stock, StockMovement
from apps.notifications.models import EmailLog
from apps.orders.models import Allocation, Fulfilment, FulfilmentLine, Order, OrderLine
from apps.payments.factories import order_paid
from tests.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)

Outcome = tuple[int, dict[str, Any]]


def _post(url: str, body: dict[str, Any] | None, headers: dict[str, str]) -> Callable[[], Outcome]:
    def call() -> Outcome:
        response = Client().post(url, body or {}, content_type="application/json", **headers)
        return response.status_code, response.json()

    return call


def _codes(outcomes: list[Outcome]) -> Counter[str]:
    return Counter(
        str(status) if status < 300 else f"{status} {body['error']}" for status, body in outcomes
    )


def _ledger_equals_stock() -> None:
    for row in Stock.objects.all():
        total = StockMovement.objects.filter(
            variant_id=row.variant_id, warehouse_id=row.warehouse_id
        ).aggregate(s=Sum("quantity"))["s"]
        assert (total or 0) == row.on_hand, row


def _staff_headers() -> dict[str, str]:
    staff = UserFactory.create(email="packer@example.com", is_staff=True)
    return jwt_headers(staff)


def test_eight_packers_of_the_same_lines_never_ship_more_than_was_ordered() -> None:
    first, second = variant_create(stock=10), variant_create(stock=10)
    order = order_paid(lines=[(first, 4), (second, 4)])
    lines = list(OrderLine.objects.filter(order=order).order_by("id"))
    body = {
        "lines": [{"line": line.pk, "quantity": 2} for line in lines],
        "warehouse": "default",
        "ship": True,
    }
    headers = _staff_headers()
    url = f"/api/v1/orders/{order.pk}/fulfilments/"

    outcomes = run_together([_post(url, body, headers) for _ in range(8)])

    # Two parcels ship everything; the order is then fulfilled, and the others are refused.
    assert _codes(outcomes) == {"201": 2, "409 invalid_state": 6}
    assert [line.quantity_fulfilled for line in OrderLine.objects.filter(order=order)] == [4, 4]
    shipped = FulfilmentLine.objects.filter(fulfilment__order=order).aggregate(s=Sum("quantity"))
    assert shipped["s"] == 8
    assert sorted(Fulfilment.objects.filter(order=order).values_list("number", flat=True)) == [
        f"{order.number}-F1",
        f"{order.number}-F2",
    ]
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert EmailLog.objects.filter(order=order, kind="order_shipped").count() == 2
    # Units were allocated where they left from: nothing moved, stock as checkout left it.
    assert StockMovement.objects.filter(order=order).count() == 2
    _ledger_equals_stock()


def test_packers_from_two_warehouses_move_each_unit_once() -> None:
    variant = variant_create(stock=5)
    north = make_warehouse(code="north", priority=10)
    receive(variant, 5, warehouse=north)
    order = order_paid(lines=[(variant, 3)])  # allocated at the default warehouse
    line = OrderLine.objects.get(order=order)
    headers = _staff_headers()
    url = f"/api/v1/orders/{order.pk}/fulfilments/"
    bodies = [
        {"lines": [{"line": line.pk, "quantity": 2}], "warehouse": code}
        for code in ["north", "default"] * 3
    ]

    outcomes = run_together([_post(url, body, headers) for body in bodies])

    # 3 units ordered, 2 per parcel: exactly one parcel, from whichever came first.
    assert _codes(outcomes) == {"201": 1, "400 validation_error": 5}
    assert OrderLine.objects.get(pk=line.pk).quantity_fulfilled == 2
    parcel = Fulfilment.objects.get(order=order)
    on_hand = dict(Stock.objects.filter(variant=variant).values_list("warehouse__code", "on_hand"))
    # 3 sold in all; a north parcel moved its 2 units (released at default, sold at north).
    expected = (
        {"default": 2, "north": 5}
        if parcel.warehouse.code == "default"
        else {
            "default": 4,
            "north": 3,
        }
    )
    assert on_hand == expected
    moved = Allocation.objects.filter(line=line, fulfilment__isnull=False)
    assert sum(a.quantity for a in moved) == (2 if parcel.warehouse.code == "north" else 0)
    _ledger_equals_stock()


def test_two_cancellations_of_one_parcel_give_the_stock_back_once() -> None:
    variant = variant_create(stock=5)
    north = make_warehouse(code="north", priority=10)
    receive(variant, 5, warehouse=north)
    order = order_paid(lines=[(variant, 2)])
    line = OrderLine.objects.get(order=order)
    headers = _staff_headers()
    created = Client().post(
        f"/api/v1/orders/{order.pk}/fulfilments/",
        {"lines": [{"line": line.pk, "quantity": 2}], "warehouse": "north"},
        content_type="application/json",
        **headers,
    )
    assert created.status_code == 201, created.content
    number = created.json()["number"]
    url = f"/api/v1/orders/{order.pk}/fulfilments/{number}/cancel/"
    ship = f"/api/v1/orders/{order.pk}/fulfilments/{number}/ship/"

    outcomes = run_together(
        [_post(url, None, headers), _post(url, None, headers), _post(ship, None, headers)]
    )

    codes = _codes(outcomes)
    assert codes["409 invalid_state"] == 2
    assert codes["200"] == 1
    status = Fulfilment.objects.get(number=number).status
    on_hand = dict(Stock.objects.filter(variant=variant).values_list("warehouse__code", "on_hand"))
    if status == "cancelled":  # moved back: default holds the order's 2 again, north its 5
        assert on_hand == {"default": 3, "north": 5}
        assert OrderLine.objects.get(pk=line.pk).quantity_fulfilled == 0
    else:  # shipped first: the move stays
        assert status == "shipped"
        assert on_hand == {"default": 5, "north": 3}
        assert OrderLine.objects.get(pk=line.pk).quantity_fulfilled == 2
    _ledger_equals_stock()
