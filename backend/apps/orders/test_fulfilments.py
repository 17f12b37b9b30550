"""Issue 18, fulfilment: parcels of some units from one warehouse, shipped or cancelled;
units moved between warehouses through the ledger; every refusal changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import transaction

from apps.accounts.models import User
from apps.catalog.factories import ledger_sum, make_warehouse, on_hand, receive, variant_create
from apps.catalog.models import Stock, StockMovement, Variant, Warehouse
from apps.catalog.stock import stock_apply, warehouse_default
from apps.notifications.models import EmailLog
from apps.notifications.services import email_render
from apps.orders import fulfilment_units
from apps.orders.factories import order_create
from apps.orders.fulfilments import fulfilment_cancel, fulfilment_create, fulfilment_ship
from apps.orders.models import Allocation, Fulfilment, Order, OrderEvent, OrderLine
from apps.orders.services import order_cancel, order_fulfil
from apps.orders.transitions import order_transition
from apps.payments.factories import order_paid
from utils.errors import ApplicationError

pytestmark = pytest.mark.django_db

S = Order.Status


def _paid(lines: list[tuple[Variant, int]]) -> Order:
    return order_paid(lines=lines)  # captured by the sandbox


def _lines(order: Order) -> list[OrderLine]:
    return list(OrderLine.objects.filter(order=order).order_by("id"))


def _everything(order: Order) -> dict[str, Any]:
    """All a fulfilment may change, to show a refusal changed none of it."""
    order.refresh_from_db()
    return {
        "order": (order.status, order.fulfilled_at, order.updated_at),
        "lines": list(
            OrderLine.objects.filter(order=order).values_list("id", "quantity_fulfilled")
        ),
        "fulfilments": list(Fulfilment.objects.values_list("number", "status")),
        "allocations": list(
            Allocation.objects.values_list("id", "warehouse_id", "quantity", "returned")
        ),
        "stock": list(Stock.objects.values_list("variant_id", "warehouse_id", "on_hand")),
        "movements": StockMovement.objects.count(),
        "events": OrderEvent.objects.filter(order=order).count(),
        "emails": EmailLog.objects.count(),
    }


def _refused(watched: Order, step: Callable[..., Any], /, **arguments: Any) -> ApplicationError:
    """``step(**arguments)`` raises, and changes nothing of ``_everything(watched)``."""
    before = _everything(watched)
    with pytest.raises(ApplicationError) as refused:
        step(**arguments)
    assert _everything(watched) == before
    return refused.value


def _parcel_refused(
    order: Order, line: OrderLine, quantity: int, staff: User, warehouse: str = "default"
) -> ApplicationError:
    """Packing ``quantity`` of ``line`` from ``warehouse`` is refused and changes nothing."""
    return _refused(
        order,
        fulfilment_create,
        order=order,
        lines=[{"line": line.pk, "quantity": quantity}],
        warehouse=warehouse,
        actor=staff,
    )


def _ledger_matches_stock() -> None:
    for row in Stock.objects.all():
        assert ledger_sum(row.variant_id, warehouse=row.warehouse) == row.on_hand, row


# --- partial, then full -------------------------------------------------------------------


def test_a_partial_parcel_then_the_rest_fulfils_the_order_with_one_email_per_parcel(
    staff: User,
) -> None:
    variant = variant_create(stock=5)
    order = _paid([(variant, 3)])
    line = _lines(order)[0]

    first = fulfilment_create(
        order=order,
        lines=[{"line": line.pk, "quantity": 2}],
        warehouse="default",
        carrier="DHL",
        tracking_number="JD1",
        tracking_url="https://track.example/JD1",
        actor=staff,
    )

    order.refresh_from_db()
    assert (first.number, first.status, first.shipped_at) == (f"{order.number}-F1", "pending", None)
    assert order.status == S.PARTIALLY_FULFILLED
    assert _lines(order)[0].quantity_fulfilled == 2
    assert not EmailLog.objects.filter(kind=EmailLog.Kind.ORDER_SHIPPED).exists()
    event = OrderEvent.objects.filter(order=order).last()
    assert event is not None
    assert (event.from_status, event.to_status, event.actor) == (
        "paid",
        "partially_fulfilled",
        staff,
    )

    shipped = fulfilment_ship(fulfilment=first, actor=staff)
    assert shipped.status == "shipped"
    assert shipped.shipped_at is not None
    with pytest.raises(ApplicationError) as again:
        fulfilment_ship(fulfilment=first, actor=staff)
    assert again.value.code == "invalid_state"

    second = fulfilment_create(
        order=order,
        lines=[{"line": line.pk, "quantity": 1}],
        warehouse="default",
        ship=True,
        actor=staff,
    )

    order.refresh_from_db()
    assert (second.number, second.status) == (f"{order.number}-F2", "shipped")
    assert order.status == S.FULFILLED
    assert order.fulfilled_at is not None
    assert _lines(order)[0].quantity_fulfilled == 3
    shipped_emails = EmailLog.objects.filter(order=order, kind=EmailLog.Kind.ORDER_SHIPPED)
    assert sorted(shipped_emails.values_list("reference", flat=True)) == [
        first.number,
        second.number,
    ]
    # Nothing moved: the units were allocated where they left from.
    assert on_hand(variant) == 2
    assert StockMovement.objects.filter(order=order).count() == 1
    with pytest.raises(ApplicationError) as nothing_left:
        fulfilment_create(
            order=order, lines=[{"line": line.pk, "quantity": 1}], warehouse="default", actor=staff
        )
    assert nothing_left.value.code == "invalid_state"


def test_the_shipped_email_names_the_parcel_its_tracking_and_its_lines(staff: User) -> None:
    first, second = variant_create(sku="MUG-1"), variant_create(sku="TEE-1")
    order = _paid([(first, 1), (second, 2)])
    parcel = fulfilment_create(
        order=order,
        lines=[{"line": _lines(order)[1].pk, "quantity": 2}],
        warehouse="default",
        carrier="UPS",
        tracking_number="1Z999",
        tracking_url="https://track.example/1Z999",
        ship=True,
        actor=staff,
    )
    log = EmailLog.objects.get(order=order, kind=EmailLog.Kind.ORDER_SHIPPED)
    rendered = email_render(log=log)
    assert rendered is not None
    subject, text, html = rendered
    assert subject == f"Part of your order {order.number} has shipped"
    assert f"Parcel {parcel.number} shipped with UPS, tracking number 1Z999" in text
    assert "Track it: https://track.example/1Z999" in text
    assert "2 x Product TEE-1" in text.split("In this parcel:")[1].split("Order ")[0]
    assert "MUG-1" not in text.split("In this parcel:")[1].split("Order ")[0]
    assert 'href="https://track.example/1Z999"' in html


# --- refusals -----------------------------------------------------------------------------


def _request(order: Order, case: str) -> dict[str, Any]:
    line = _lines(order)[0]
    other_line = _lines(order_create(lines=[(variant_create(), 1)]))[0]
    body: dict[str, Any] = {"lines": [{"line": line.pk, "quantity": 1}], "warehouse": "default"}
    if case == "unknown_line":
        body["lines"] = [{"line": other_line.pk, "quantity": 1}]
    elif case == "duplicate_line":
        body["lines"] = [{"line": line.pk, "quantity": 1}, {"line": line.pk, "quantity": 1}]
    elif case == "zero_quantity":
        body["lines"] = [{"line": line.pk, "quantity": 0}]
    elif case == "too_many":
        body["lines"] = [{"line": line.pk, "quantity": 3}]
    elif case == "no_lines":
        body["lines"] = []
    elif case == "unknown_warehouse":
        body["warehouse"] = "atlantis"
    elif case == "inactive_warehouse":
        make_warehouse(code="closed", is_active=False)
        body["warehouse"] = "closed"
    return body


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("unknown_line", "lines"),
        ("duplicate_line", "lines"),
        ("zero_quantity", "lines"),
        ("too_many", "lines"),
        ("no_lines", "lines"),
        ("unknown_warehouse", "warehouse"),
        ("inactive_warehouse", "warehouse"),
    ],
)
def test_a_bad_request_is_a_validation_error_that_changes_nothing(
    staff: User, case: str, field: str
) -> None:
    order = _paid([(variant_create(stock=5), 2)])
    refused = _refused(order, fulfilment_create, order=order, actor=staff, **_request(order, case))

    assert (refused.code, refused.status_code) == ("validation_error", 400)
    assert field in refused.details


@pytest.mark.parametrize("status", ["pending_payment", "cancelled", "refunded", "fulfilled"])
def test_an_order_that_is_not_paid_cannot_be_fulfilled(staff: User, status: str) -> None:
    order = order_create(lines=[(variant_create(stock=5), 2)])
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if status != "pending_payment":
            order_transition(order=locked, to_status=S.PAID)
        if status != "pending_payment" and status != "paid":
            order_transition(order=locked, to_status=status)

    refused = _parcel_refused(order, _lines(order)[0], 1, staff)

    assert (refused.code, refused.status_code) == ("invalid_state", 409)


def test_more_than_is_left_counts_units_already_in_parcels(staff: User) -> None:
    order = _paid([(variant_create(stock=5), 3)])
    line = _lines(order)[0]
    fulfilment_create(
        order=order, lines=[{"line": line.pk, "quantity": 2}], warehouse="default", actor=staff
    )
    refused = _parcel_refused(order, line, 2, staff)

    assert refused.details["left_to_fulfil"] == {str(line.pk): 1}


def test_the_database_refuses_more_than_ordered_whatever_the_caller_read(staff: User) -> None:
    order = _paid([(variant_create(stock=5), 2)])
    line = _lines(order)[0]
    OrderLine.objects.filter(pk=line.pk).update(quantity_fulfilled=2)  # as if someone else did

    with transaction.atomic(), pytest.raises(ApplicationError) as refused:
        fulfilment_units.lines_fulfilled_add({line.pk: 1})

    assert refused.value.code == "validation_error"
    assert _lines(order)[0].quantity_fulfilled == 2


# --- another warehouse --------------------------------------------------------------------


def _north(variant: Variant, units: int) -> Warehouse:
    north = make_warehouse(code="north", priority=10)
    receive(variant, units, warehouse=north)
    return north


def test_a_parcel_from_another_warehouse_moves_the_units_through_the_ledger(staff: User) -> None:
    variant = variant_create(stock=5)
    north = _north(variant, 4)
    order = _paid([(variant, 2)])  # allocated at the default warehouse: 3 left there
    default = warehouse_default()
    line = _lines(order)[0]

    parcel = fulfilment_create(
        order=order, lines=[{"line": line.pk, "quantity": 2}], warehouse="north", actor=staff
    )

    assert (on_hand(variant, warehouse=default), on_hand(variant, warehouse=north)) == (5, 2)
    moves = StockMovement.objects.filter(order=order).exclude(reason="sale", warehouse=default)
    assert sorted(moves.values_list("reason", "warehouse__code", "quantity")) == [
        ("release", "default", 2),
        ("sale", "north", -2),
    ]
    source = Allocation.objects.get(line=line, warehouse=default)
    moved = Allocation.objects.get(line=line, warehouse=north)
    assert (source.quantity, source.returned) == (2, 2)
    assert (moved.quantity, moved.returned, moved.fulfilment, moved.source) == (
        2,
        0,
        parcel,
        source,
    )
    _ledger_matches_stock()

    fulfilment_cancel(fulfilment=parcel, actor=staff)

    assert (on_hand(variant, warehouse=default), on_hand(variant, warehouse=north)) == (3, 4)
    source.refresh_from_db()
    moved.refresh_from_db()
    assert (source.returned, moved.returned) == (0, 2)
    order.refresh_from_db()
    assert (order.status, order.fulfilled_at, _lines(order)[0].quantity_fulfilled) == (
        S.PAID,
        None,
        0,
    )
    _ledger_matches_stock()

    # The order cancelled now gives its units back to the warehouse that holds them.
    order_cancel(order=order, actor=staff)
    assert (on_hand(variant, warehouse=default), on_hand(variant, warehouse=north)) == (5, 4)
    _ledger_matches_stock()


def test_a_move_the_warehouse_cannot_cover_is_insufficient_stock_and_changes_nothing(
    staff: User,
) -> None:
    variant = variant_create(stock=5)
    _north(variant, 1)
    order = _paid([(variant, 2)])

    refused = _parcel_refused(order, _lines(order)[0], 2, staff, warehouse="north")

    assert (refused.code, refused.status_code) == ("insufficient_stock", 409)
    assert refused.details["variants"] == [
        {
            "variant_id": variant.pk,
            "sku": variant.sku,
            "warehouse_id": Warehouse.objects.get(code="north").pk,
            "warehouse": "north",
            "requested": 2,
            "available": 1,
        }
    ]


def test_a_split_line_ships_what_each_warehouse_holds_and_moves_only_the_rest(
    staff: User,
) -> None:
    variant = variant_create(stock=5)
    north = _north(variant, 5)
    order = _paid([(variant, 4)])
    line = _lines(order)[0]
    default = warehouse_default()
    # As checkout splits a line: 2 from default, 2 from north (moved through the ledger).
    with transaction.atomic():
        stock_apply(changes={(variant.pk, default.pk): 2}, reason="release", order=order)
        stock_apply(changes={(variant.pk, north.pk): -2}, reason="sale", order=order)
    Allocation.objects.filter(line=line).update(quantity=2)
    Allocation.objects.create(line=line, warehouse=north, quantity=2)
    assert (on_hand(variant, warehouse=default), on_hand(variant, warehouse=north)) == (3, 3)

    fulfilment_create(
        order=order, lines=[{"line": line.pk, "quantity": 3}], warehouse="north", actor=staff
    )

    # 2 were free at north; 1 moved from default.
    assert (on_hand(variant, warehouse=default), on_hand(variant, warehouse=north)) == (4, 2)
    moved = Allocation.objects.get(line=line, warehouse=north, fulfilment__isnull=False)
    assert (moved.quantity, moved.source.warehouse) == (1, default)  # type: ignore[union-attr]
    _ledger_matches_stock()


def test_cancelling_a_moved_parcel_the_source_cannot_take_back_is_refused_and_changes_nothing(
    staff: User,
) -> None:
    """Every unit a parcel moved goes back to its source warehouse, or the cancel is a 409
    ``insufficient_stock`` that changes nothing (no unit left allocated where it is)."""
    variant = variant_create(stock=5)
    north = _north(variant, 4)
    order = _paid([(variant, 3)])  # allocated at the default warehouse: 2 left there
    default = warehouse_default()
    line = _lines(order)[0]
    parcel = fulfilment_create(
        order=order, lines=[{"line": line.pk, "quantity": 3}], warehouse="north", actor=staff
    )
    assert on_hand(variant, warehouse=default) == 5  # the 3 moved units are back on sale there
    with transaction.atomic():  # ... and 4 of them are sold or written off meanwhile
        stock_apply(changes={(variant.pk, default.pk): -4}, reason="adjust")

    refused = _refused(order, fulfilment_cancel, fulfilment=parcel, actor=staff)

    assert (refused.code, refused.status_code) == ("insufficient_stock", 409)
    assert refused.details["fulfilment"] == parcel.number
    assert refused.details["variants"] == [
        {
            "variant_id": variant.pk,
            "sku": variant.sku,
            "warehouse_id": default.pk,
            "warehouse": "default",
            "requested": 3,
            "available": 1,
        }
    ]
    _ledger_matches_stock()

    # Once the source holds the units again, every one of them moves back.
    receive(variant, 2, warehouse=default)
    fulfilment_cancel(fulfilment=parcel, actor=staff)
    assert (on_hand(variant, warehouse=default), on_hand(variant, warehouse=north)) == (0, 4)
    moved = Allocation.objects.get(line=line, fulfilment=parcel)
    assert (moved.quantity, moved.returned, moved.source.returned) == (3, 3, 0)  # type: ignore[union-attr]
    _ledger_matches_stock()
    order_cancel(order=order, actor=staff)
    assert (on_hand(variant, warehouse=default), on_hand(variant, warehouse=north)) == (3, 4)
    _ledger_matches_stock()


# --- cancel -------------------------------------------------------------------------------


def test_only_a_pending_parcel_can_be_cancelled(staff: User) -> None:
    order = _paid([(variant_create(stock=5), 2)])
    parcel = fulfilment_create(
        order=order,
        lines=[{"line": _lines(order)[0].pk, "quantity": 2}],
        warehouse="default",
        ship=True,
        actor=staff,
    )
    refused = _refused(order, fulfilment_cancel, fulfilment=parcel, actor=staff)

    assert (refused.code, refused.details["status"]) == ("invalid_state", "shipped")


def test_cancelling_a_parcel_of_a_fulfilled_order_makes_it_partially_fulfilled_again(
    staff: User,
) -> None:
    order = _paid([(variant_create(stock=5), 1), (variant_create(stock=5), 1)])
    first, second = _lines(order)
    fulfilment_create(
        order=order,
        lines=[{"line": first.pk, "quantity": 1}],
        warehouse="default",
        ship=True,
        actor=staff,
    )
    pending = fulfilment_create(
        order=order, lines=[{"line": second.pk, "quantity": 1}], warehouse="default", actor=staff
    )
    order.refresh_from_db()
    assert order.status == S.FULFILLED

    cancelled = fulfilment_cancel(fulfilment=pending, actor=staff)

    order.refresh_from_db()
    assert (cancelled.status, cancelled.cancelled_at is not None) == ("cancelled", True)
    assert (order.status, order.fulfilled_at) == (S.PARTIALLY_FULFILLED, None)
    assert [line.quantity_fulfilled for line in _lines(order)] == [1, 0]
    # The line may be packed again: the cancelled parcel's units are free.
    again = fulfilment_create(
        order=order, lines=[{"line": second.pk, "quantity": 1}], warehouse="default", actor=staff
    )
    assert again.number == f"{order.number}-F3"


def test_a_partially_refunded_order_goes_back_to_partially_refunded(staff: User) -> None:
    order = _paid([(variant_create(stock=5), 2)])
    Order.objects.filter(pk=order.pk).update(
        status=S.PARTIALLY_REFUNDED, refunded_total=Decimal("1.00")
    )
    parcel = fulfilment_create(
        order=order,
        lines=[{"line": _lines(order)[0].pk, "quantity": 1}],
        warehouse="default",
        actor=staff,
    )
    order.refresh_from_db()
    assert order.status == S.PARTIALLY_FULFILLED

    fulfilment_cancel(fulfilment=parcel, actor=staff)

    order.refresh_from_db()
    assert order.status == S.PARTIALLY_REFUNDED
    assert list(OrderEvent.objects.filter(order=order).values_list("from_status", "to_status"))[
        -2:
    ] == [
        ("partially_refunded", "partially_fulfilled"),
        ("partially_fulfilled", "partially_refunded"),
    ]


def test_a_parcel_whose_units_are_in_a_return_cannot_be_cancelled(staff: User) -> None:
    order = _paid([(variant_create(stock=5), 2)])
    line = _lines(order)[0]
    parcel = fulfilment_create(
        order=order, lines=[{"line": line.pk, "quantity": 2}], warehouse="default", actor=staff
    )
    OrderLine.objects.filter(pk=line.pk).update(quantity_returned=1)

    assert _refused(order, fulfilment_cancel, fulfilment=parcel, actor=staff).code == (
        "invalid_state"
    )


# --- the /fulfil/ action ----------------------------------------------------------------


def test_fulfil_ships_one_parcel_per_warehouse_and_sends_one_email(staff: User) -> None:
    variant, other = variant_create(stock=5), variant_create(stock=5)
    north = _north(other, 3)
    order = _paid([(variant, 2), (other, 1)])
    Allocation.objects.filter(line__variant=other).update(warehouse=north)
    mail.outbox.clear()

    fulfilled = order_fulfil(order=order, actor=staff, carrier="DHL", tracking_number="JD9")

    assert (fulfilled.status, fulfilled.carrier, fulfilled.tracking_number) == (
        S.FULFILLED,
        "DHL",
        "JD9",
    )
    parcels = Fulfilment.objects.filter(order=order).order_by("number")
    assert [(p.warehouse.code, p.status, p.tracking_number) for p in parcels] == [
        ("default", "shipped", "JD9"),
        ("north", "shipped", "JD9"),
    ]
    assert [line.quantity_fulfilled for line in _lines(order)] == [2, 1]
    kinds = list(EmailLog.objects.filter(order=order).values_list("kind", flat=True))
    assert kinds.count(EmailLog.Kind.ORDER_FULFILLED) == 1
    assert EmailLog.Kind.ORDER_SHIPPED not in kinds
    # Nothing moved between warehouses.
    assert not StockMovement.objects.filter(order=order, reason="release").exists()


def test_fulfil_ships_what_is_left_after_a_parcel(staff: User) -> None:
    order = _paid([(variant_create(stock=5), 3)])
    line = _lines(order)[0]
    fulfilment_create(
        order=order, lines=[{"line": line.pk, "quantity": 1}], warehouse="default", actor=staff
    )

    order_fulfil(order=order, actor=staff, carrier="DHL", tracking_number="JD9")

    parcels = list(Fulfilment.objects.filter(order=order).order_by("number"))
    assert [(p.status, p.lines.get().quantity) for p in parcels] == [("pending", 1), ("shipped", 2)]
    order.refresh_from_db()
    assert order.status == S.FULFILLED
