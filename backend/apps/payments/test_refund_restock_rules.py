"""A refund restocks only units that never left: not packed, not shipped, still allocated
and not promised to another pending refund. Shipped units come back through returns.
Restocked (or promised) units are no longer to be sent: no parcel takes them, and the
order is fulfilled without them. Every refusal is a 4xx that changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.catalog.factories import ledger_sum, on_hand, variant_create
from apps.catalog.models import Stock, StockMovement
from apps.orders.fulfilments import fulfilment_cancel, fulfilment_create, order_fulfil_all
from apps.orders.models import Order, OrderLine
from apps.payments.factories import order_paid
from apps.payments.models import Refund
from apps.payments.services import refund_apply_result, refund_create
from apps.returns.services import return_request_create, returnable_units
from config.testing import db_snapshot
from utils.errors import ApplicationError

pytestmark = pytest.mark.django_db


def _refund_url(order: Order) -> str:
    return f"/api/v1/orders/{order.pk}/refund/"


def _line(order: Order) -> OrderLine:
    return OrderLine.objects.get(order=order)


def _restock(
    client: APIClient, order: Order, units: int, amount: str = "1.00"
) -> Any:  # a partial refund naming the line to restock
    body = {
        "amount": amount,
        "restock": True,
        "reason": "damaged",
        "lines": [{"line_id": _line(order).pk, "quantity": units}],
    }
    return client.post(_refund_url(order), body, format="json")


def _ledger_matches_stock() -> None:
    for row in Stock.objects.all():
        assert ledger_sum(row.variant_id, warehouse=row.warehouse) == row.on_hand, row


@pytest.fixture
def ship(staff: User) -> Callable[..., Any]:
    def make(order: Order, units: int, *, shipped: bool = True) -> Any:
        return fulfilment_create(
            order=order,
            lines=[{"line": _line(order).pk, "quantity": units}],
            warehouse="default",
            ship=shipped,
            actor=staff,
        )

    return make


def test_shipped_units_cannot_be_restocked_by_a_refund(
    staff_client: APIClient, ship: Callable[..., Any]
) -> None:
    variant = variant_create(stock=5)
    order = order_paid(lines=[(variant, 2)])
    ship(order, 2)
    before = db_snapshot()

    response = _restock(staff_client, order, 1)

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["details"]["lines"] == [
        f"Line {_line(order).pk} ({variant.sku}): at most 0 can be restocked (units packed "
        "or shipped come back through a return, not a refund)."
    ]
    assert body["details"]["restockable"] == {str(_line(order).pk): 0}
    assert db_snapshot() == before
    # A full refund "with restock" of a shipped order puts nothing back on the shelf: the
    # units are with the customer (a return brings them back).
    refund_create(order=order, amount=None, restock=True, reason="x", actor=None)
    assert Refund.objects.get().restock_lines == []


def test_packed_units_are_restocked_only_once_their_parcel_is_cancelled(
    staff: User, staff_client: APIClient, ship: Callable[..., Any]
) -> None:
    variant = variant_create(stock=5)
    order = order_paid(lines=[(variant, 3)])
    parcel = ship(order, 2, shipped=False)
    before = db_snapshot()

    refused = _restock(staff_client, order, 2)

    assert (refused.status_code, refused.json()["error"]) == (400, "validation_error")
    assert refused.json()["details"]["restockable"] == {str(_line(order).pk): 1}
    assert db_snapshot() == before
    fulfilment_cancel(fulfilment=parcel, actor=staff)
    assert _restock(staff_client, order, 2).status_code == 202


def test_units_restocked_by_a_refund_are_no_longer_to_be_sent(
    staff: User, staff_client: APIClient, ship: Callable[..., Any]
) -> None:
    variant = variant_create(stock=5)
    order = order_paid(lines=[(variant, 3)])
    assert on_hand(variant) == 2
    response = _restock(staff_client, order, 1)
    assert response.status_code == 202, response.content
    refund_apply_result(refund_id=response.json()["id"], succeeded=True)
    assert on_hand(variant) == 3
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    before = db_snapshot()

    with pytest.raises(ApplicationError) as refused:
        ship(order, 3)  # one of the 3 is back on the shelf

    assert (refused.value.code, refused.value.status_code) == ("validation_error", 400)
    assert refused.value.details["left_to_fulfil"] == {str(_line(order).pk): 2}
    assert db_snapshot() == before
    # The 2 still out ship, and that is the whole order: fulfilled, nothing left over.
    ship(order, 2)
    order.refresh_from_db()
    line = _line(order)
    assert (order.status, line.quantity_fulfilled) == (Order.Status.FULFILLED, 2)
    # ... and a later refund cannot restock the restocked unit (nor the shipped ones) again.
    again = _restock(staff_client, order, 1)
    assert (again.status_code, again.json()["details"]["restockable"]) == (
        400,
        {str(line.pk): 0},
    )
    # The restocked unit never shipped: it cannot be returned either; the shipped ones can.
    assert returnable_units(line=line, shipped=None, promised=0) == 0
    made = return_request_create(
        order=order, lines=[{"line": line.pk, "quantity": 2}], reason="other", actor=None
    )
    assert made.status == "requested"
    assert on_hand(variant) == 3
    _ledger_matches_stock()


def test_a_pending_refunds_restock_units_are_reserved_from_parcels(
    staff: User, staff_client: APIClient, ship: Callable[..., Any]
) -> None:
    variant = variant_create(stock=5)
    order = order_paid(lines=[(variant, 3)])
    response = _restock(staff_client, order, 2)  # pending: the provider has not paid yet
    assert response.status_code == 202, response.content
    assert Refund.objects.get().status == Refund.Status.PENDING
    before = db_snapshot()

    with pytest.raises(ApplicationError) as refused:
        ship(order, 2)
    assert refused.value.details["left_to_fulfil"] == {str(_line(order).pk): 1}
    assert db_snapshot() == before

    # "Ship everything left" ships the one unit not promised, and that completes the order;
    # once the refund succeeds its 2 units go back on the shelf.
    order_fulfil_all(order=order, actor=staff, carrier="DHL", tracking_number="1")
    order.refresh_from_db()
    assert (order.status, _line(order).quantity_fulfilled) == (Order.Status.FULFILLED, 1)
    refund_apply_result(refund_id=response.json()["id"], succeeded=True)
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert on_hand(variant) == 4
    restocked = StockMovement.objects.filter(order=order, reason="restock")
    assert list(restocked.values_list("quantity", flat=True)) == [2]
    _ledger_matches_stock()


def test_a_failed_refund_frees_the_units_it_was_to_restock(
    staff: User, staff_client: APIClient, ship: Callable[..., Any]
) -> None:
    order = order_paid(lines=[(variant_create(stock=5), 2)])
    response = _restock(staff_client, order, 2)
    refund_apply_result(refund_id=response.json()["id"], succeeded=False, error="declined")

    ship(order, 2)

    order.refresh_from_db()
    assert (order.status, _line(order).quantity_fulfilled) == (Order.Status.FULFILLED, 2)
