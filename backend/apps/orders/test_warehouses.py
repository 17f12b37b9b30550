"""Issue 18, warehouses: checkout splits lines over warehouses by priority, records the
allocations, and a cancellation gives stock back where it came from; the catalogue's
``available`` counts active warehouses only; staff adjustments name a warehouse."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.cart.factories import cart_create
from apps.catalog import selectors
from apps.catalog.factories import (
    VariantFactory,
    ledger_sum,
    make_warehouse,
    on_hand,
    receive,
    variant_create,
)
from apps.catalog.models import Stock, StockMovement, Warehouse
from apps.catalog.stock import stock_reconcile, warehouse_default
from apps.ops.models import StockDrift
from apps.orders.factories import CHECKOUT_BODY, checkout_url
from apps.orders.models import Allocation, Order
from apps.orders.services import order_cancel

pytestmark = pytest.mark.django_db


def _split_variant(*, main: int, north: int) -> tuple[Any, Warehouse, Warehouse]:
    """A variant with ``main`` units in the default warehouse (priority 0) and ``north``
    in a second one (priority 10)."""
    variant = variant_create(stock=main)
    second = make_warehouse(code="north", priority=10)
    if north:
        receive(variant, north, warehouse=second)
    return variant, warehouse_default(), second


def _checkout(client: APIClient, customer: User, lines: list[tuple[Any, int]]) -> Order:
    cart = cart_create(user=customer, lines=lines)
    response = client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["id"])


def test_checkout_splits_a_line_by_priority_and_records_the_allocations(
    customer: User, customer_client: APIClient
) -> None:
    variant, main, north = _split_variant(main=2, north=3)
    order = _checkout(customer_client, customer, [(variant, 4)])

    line = order.lines.get()
    assert [(a.warehouse_id, a.quantity) for a in line.allocations.order_by("id")] == [
        (main.pk, 2),
        (north.pk, 2),
    ]
    assert (on_hand(variant, warehouse=main), on_hand(variant, warehouse=north)) == (0, 1)
    for warehouse in (main, north):
        assert on_hand(variant, warehouse=warehouse) == ledger_sum(variant, warehouse=warehouse)
    sales = StockMovement.objects.filter(order=order, reason="sale").order_by("warehouse_id")
    assert [(m.warehouse_id, m.quantity) for m in sales] == [(main.pk, -2), (north.pk, -2)]


def test_priority_decides_not_the_id(customer: User, customer_client: APIClient) -> None:
    variant, main, north = _split_variant(main=3, north=3)
    Warehouse.objects.filter(pk=north.pk).update(priority=0)
    Warehouse.objects.filter(pk=main.pk).update(priority=50)
    order = _checkout(customer_client, customer, [(variant, 1)])
    assert list(
        Allocation.objects.filter(line__order=order).values_list("warehouse_id", "quantity")
    ) == [(north.pk, 1)]


def test_inactive_warehouse_is_not_available_nor_allocated(
    customer: User, customer_client: APIClient
) -> None:
    variant, _main, north = _split_variant(main=1, north=5)
    Warehouse.objects.filter(pk=north.pk).update(is_active=False)

    assert selectors.variant_get(variant_id=variant.pk).available == 1
    cart = cart_create(user=customer, lines=[(variant, 2)])
    response = customer_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert response.status_code == 409
    assert response.json()["details"]["variants"][0]["available"] == 1
    assert on_hand(variant, warehouse=north) == 5  # nothing taken

    Warehouse.objects.filter(pk=north.pk).update(is_active=True)
    assert selectors.variant_get(variant_id=variant.pk).available == 6
    assert selectors.variant_for_cart(variant_id=variant.pk).available == 6  # type: ignore[union-attr]


def test_cancellation_gives_stock_back_to_the_warehouse_it_came_from(
    customer: User, customer_client: APIClient
) -> None:
    variant, main, north = _split_variant(main=1, north=4)
    order = _checkout(customer_client, customer, [(variant, 3)])
    assert (on_hand(variant, warehouse=main), on_hand(variant, warehouse=north)) == (0, 2)

    order_cancel(order=order, actor=customer)

    assert (on_hand(variant, warehouse=main), on_hand(variant, warehouse=north)) == (1, 4)
    releases = StockMovement.objects.filter(order=order, reason="release").order_by("warehouse_id")
    assert [(m.warehouse_id, m.quantity) for m in releases] == [(main.pk, 1), (north.pk, 2)]
    assert all(a.returned == a.quantity for a in Allocation.objects.filter(line__order=order))
    assert stock_reconcile() == []


@pytest.mark.parametrize("line_count", [1, 20])
def test_checkout_queries_do_not_grow_with_lines_over_two_warehouses(
    customer: User,
    customer_client: APIClient,
    django_assert_max_num_queries: Any,
    line_count: int,
) -> None:
    north = make_warehouse(code="north", priority=10)
    variants = []
    for n in range(line_count):
        variant = variant_create(sku=f"SPLIT-{n}", stock=1)
        receive(variant, 2, warehouse=north)
        variants.append(variant)
    cart = cart_create(user=customer, lines=[(v, 2) for v in variants])  # split: 1 + 1
    from apps.integrations.services import event_subscriptions

    event_subscriptions()
    with django_assert_max_num_queries(18), CaptureQueriesContext(connection) as ctx:
        response = customer_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert response.status_code == 201, response.content
    assert Allocation.objects.count() == 2 * line_count
    print(f"split checkout, {line_count} lines: {len(ctx)} queries")


def test_staff_adjustment_names_the_warehouse_once_there_are_two(staff_client: APIClient) -> None:
    variant = variant_create(stock=2)
    url = f"/api/v1/variants/{variant.pk}/adjust-stock/"
    assert (
        staff_client.post(url, {"quantity": 1, "reason": "receive"}, format="json").status_code
        == 200
    )
    north = make_warehouse(code="north")
    before = StockMovement.objects.count()

    refused = staff_client.post(url, {"quantity": 1, "reason": "receive"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"] == "validation_error"
    assert "warehouse" in refused.json()["details"]
    unknown = staff_client.post(
        url, {"quantity": 1, "reason": "receive", "warehouse": 999_999}, format="json"
    )
    assert unknown.status_code == 400
    assert StockMovement.objects.count() == before

    ok = staff_client.post(
        url, {"quantity": 4, "reason": "receive", "warehouse": north.pk}, format="json"
    )
    assert ok.status_code == 200, ok.content
    assert on_hand(variant, warehouse=north) == 4 == ledger_sum(variant, warehouse=north)
    assert ok.json()["available"] == 7


def test_reconciliation_checks_each_warehouse() -> None:
    variant, main, north = _split_variant(main=3, north=3)
    # +1 in one warehouse, -1 in the other: the variant's total still matches its ledger.
    Stock.objects.filter(variant=variant, warehouse=main).update(on_hand=4)
    Stock.objects.filter(variant=variant, warehouse=north).update(on_hand=2)
    drifts = stock_reconcile()
    assert [(d["warehouse_id"], d["on_hand"], d["ledger_sum"]) for d in drifts] == [
        (main.pk, 4, 3),
        (north.pk, 2, 3),
    ]
    assert set(StockDrift.objects.values_list("warehouse_id", flat=True)) == {main.pk, north.pk}


def test_warehouse_api_creates_updates_and_deactivates(staff_client: APIClient) -> None:
    created = staff_client.post(
        "/api/v1/warehouses/",
        {"code": "south", "name": "South", "country": "it", "priority": 7},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["code"], body["country"], body["priority"], body["is_active"]) == (
        "south", "IT", 7, True
    )  # fmt: skip
    duplicate = staff_client.post(
        "/api/v1/warehouses/", {"code": "south", "name": "X", "country": "IT"}, format="json"
    )
    assert duplicate.status_code == 400
    bad_country = staff_client.post(
        "/api/v1/warehouses/", {"code": "x", "name": "X", "country": "ZZ"}, format="json"
    )
    assert bad_country.status_code == 400
    assert Warehouse.objects.filter(code="x").count() == 0

    url = f"/api/v1/warehouses/{body['id']}/"
    assert staff_client.patch(url, {"priority": 1}, format="json").json()["priority"] == 1
    assert staff_client.delete(url).status_code == 204
    assert Warehouse.objects.get(pk=body["id"]).is_active is False


def test_data_migration_moves_rows_and_movements_into_the_default_warehouse() -> None:
    """Run 0006's function on a variant whose stock and ledger have no warehouse yet
    (the state 0005 leaves): modelled with a throwaway legacy table."""
    migration = importlib.import_module("apps.catalog.migrations.0006_stock_into_default_warehouse")
    variant = VariantFactory.create()
    default = warehouse_default()

    class _Legacy:  # what 0005 renamed the old one-row-per-variant table to
        variant_id = variant.pk
        on_hand = 7
        low_stock_threshold = 2

    class _LegacyManager:
        def order_by(self, *_: str) -> _LegacyManager:
            return self

        def iterator(self, chunk_size: int) -> list[_Legacy]:
            return [_Legacy()]

    class _LegacyModel:
        objects = _LegacyManager()

    class _Apps:
        def get_model(self, app: str, name: str) -> Any:
            if name == "LegacyStock":
                return _LegacyModel
            return django_apps.get_model(app, name)

    migration.stock_forward(_Apps(), None)

    row = Stock.objects.get(variant=variant)
    assert (row.warehouse_id, row.on_hand, row.low_stock_threshold) == (default.pk, 7, 2)
