"""Test data for returns: an order as fulfilment leaves it, built with the ORM.

``order_shipped`` makes a paid order (``order_paid``), then one shipped
``Fulfilment`` with its lines, sets ``quantity_fulfilled`` and the order's status
(``fulfilled``, or ``partially_fulfilled`` when not every unit shipped), as the
fulfilment service does. ``return_made`` asks for a return through the service;
``return_received`` approves one and records what arrived, through the services too.
Imported by tests only; never by application code.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.models import Variant, Warehouse
from apps.catalog.stock import warehouse_default
from apps.orders.models import Fulfilment, FulfilmentLine, Order, OrderLine
from apps.payments.factories import latest_payment, order_paid
from apps.returns.models import ReturnRequest
from apps.returns.services import return_approve, return_receive, return_request_create
from utils.decimal_utils import money_sum, quantize


def _with_tax(order: Order, rate: Decimal) -> None:
    """Gross prices with ``rate`` % tax inside, as checkout snapshots them."""
    lines = list(order.lines.all())
    for line in lines:
        line.tax_rate = rate
        line.tax = quantize(line.line_total * rate / (Decimal(100) + rate))
        line.net = line.line_total - line.tax
    OrderLine.objects.bulk_update(lines, ["tax_rate", "tax", "net"])
    order.tax_total = money_sum(line.tax for line in lines)
    order.save(update_fields=["tax_total"])


def order_shipped(
    *,
    lines: Sequence[tuple[Variant, int]],
    shipped: Sequence[int] | None = None,
    user: User | None = None,
    guest_token: str | None = None,
    shipped_days_ago: float = 1,
    tax_rate: str | None = None,
    warehouse: Warehouse | None = None,
    packed: Sequence[int] | None = None,
) -> Order:
    """A paid order whose first parcel shipped ``shipped_days_ago`` with ``shipped[i]``
    units of line i (default: all of them). ``packed[i]`` more units sit in a second
    parcel that is packed but not shipped (``pending``)."""
    order = order_paid(user=user, guest_token=guest_token, lines=lines)
    if tax_rate is not None:
        _with_tax(order, Decimal(tax_rate))
    order_lines = list(order.lines.order_by("pk"))
    shipped = list(shipped) if shipped is not None else [line.quantity for line in order_lines]
    packed = list(packed) if packed is not None else [0] * len(order_lines)
    warehouse = warehouse or warehouse_default()
    parcels = [(Fulfilment.Status.SHIPPED, shipped), (Fulfilment.Status.PENDING, packed)]
    for n, (status, units) in enumerate(parcels, start=1):
        if not any(units):
            continue
        fulfilment = Fulfilment.objects.create(
            order=order,
            number=f"{order.number}-F{n}",
            warehouse=warehouse,
            status=status,
            carrier="DHL",
            tracking_number=f"TRACK-{n}",
            shipped_at=(
                timezone.now() - timedelta(days=shipped_days_ago)
                if status == Fulfilment.Status.SHIPPED
                else None
            ),
        )
        FulfilmentLine.objects.bulk_create(
            [
                FulfilmentLine(fulfilment=fulfilment, line=line, quantity=qty)
                for line, qty in zip(order_lines, units, strict=True)
                if qty
            ]
        )
    for line, ship, pack in zip(order_lines, shipped, packed, strict=True):
        line.quantity_fulfilled = ship + pack
    OrderLine.objects.bulk_update(order_lines, ["quantity_fulfilled"])
    every_unit = all(line.quantity_fulfilled == line.quantity for line in order_lines)
    order.status = Order.Status.FULFILLED if every_unit else Order.Status.PARTIALLY_FULFILLED
    order.fulfilled_at = timezone.now() if every_unit else None
    order.save(update_fields=["status", "fulfilled_at"])
    assert latest_payment(order).status == "captured"
    return order


def return_made(
    order: Order,
    units: Sequence[tuple[OrderLine, int]],
    *,
    actor: User | None = None,
    reason: str = ReturnRequest.Reason.DAMAGED,
) -> ReturnRequest:
    """A ``requested`` return of ``units`` [(order line, quantity)] through the service."""
    return return_request_create(
        order=order,
        lines=[{"line": line.pk, "quantity": qty} for line, qty in units],
        reason=reason,
        actor=actor,
    )


def return_received(
    return_request: ReturnRequest, *, actor: User, line: int, quantity: int
) -> ReturnRequest:
    """``return_request`` approved, then ``quantity`` units of order line ``line`` received
    (not restocked)."""
    return_approve(return_request=return_request, actor=actor)
    return return_receive(
        return_request=return_request,
        actor=actor,
        lines=[{"line": line, "quantity": quantity, "restock": False}],
    )
