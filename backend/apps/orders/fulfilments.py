"""Fulfilments: parcels of some units of an order's lines, leaving one warehouse.

``fulfilment_create``, ``fulfilment_ship`` and ``fulfilment_cancel`` are each one
transaction. Lock order, everywhere: the order row, then its allocations, then stock
rows in (variant id, warehouse id) order (``stock_lock``), so they queue behind
checkout, cancellation and refunds instead of deadlocking with them.

Units a line may ship from a warehouse are its open allocation there (allocated at
checkout, not given back) less the units already in fulfilments from there that are
not cancelled. When the chosen warehouse has fewer, the shortfall moves through the
ledger (``release`` where it was allocated, ``sale`` where it leaves) and the move is
recorded as an ``Allocation`` with ``fulfilment`` and ``source``, so cancellations and
refunds give stock back to the warehouse that holds it. ``quantity_fulfilled`` goes up
with a conditional UPDATE that cannot pass ``quantity``, whatever runs at the same time.
Those steps are in ``apps.orders.fulfilment_units``; this module holds the services,
the parcels' rows, the order's status and the emails. What does not belong here:
returns (``apps.returns``), checkout's allocation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.models import Warehouse
from apps.notifications.models import EmailLog
from apps.notifications.services import email_enqueue
from apps.orders.fulfilment_units import (
    Plan,
    UnitState,
    allocations_save,
    lines_fulfilled_add,
    lines_fulfilled_remove,
    moves_apply,
    moves_reverse,
    plan_make,
    restock_promised,
    units_left_check,
    units_read,
    units_to_deliver,
)
from apps.orders.models import Allocation, Fulfilment, FulfilmentLine, Order, OrderLine
from apps.orders.transitions import actor_kind, order_event_record, order_transition
from utils.errors import InvalidStateError, ValidationError

S = Order.Status
FS = Fulfilment.Status

FULFILLABLE = frozenset({S.PAID, S.PARTIALLY_FULFILLED, S.PARTIALLY_REFUNDED})
SHIPPABLE = FULFILLABLE | {S.FULFILLED}
KEEPS_STATUS = frozenset({S.REFUNDED, S.CANCELLED})  # final: a parcel cancelled keeps them


def fulfilment_create(
    *,
    order: Order,
    lines: Sequence[Mapping[str, Any]],
    warehouse: str,
    carrier: str = "",
    tracking_number: str = "",
    tracking_url: str = "",
    ship: bool = False,
    actor: User | None,
) -> Fulfilment:
    """Pack ``lines`` ([{"line": id, "quantity": n}]) of ``order`` from the warehouse with
    code ``warehouse``; shipped at once with ``ship``. The order becomes partially
    fulfilled or fulfilled.

    400 ``validation_error`` for unknown or repeated lines, a quantity below 1 or above
    what is left to fulfil, an unknown or inactive warehouse; 409 ``invalid_state`` for
    an order that is not paid, partially fulfilled or partially refunded; 409
    ``insufficient_stock`` when units must move to a warehouse that does not have them.
    """
    wanted = _wanted(lines)
    with transaction.atomic():
        locked = _lock(order.pk)
        target = _warehouse(warehouse)
        if locked.status not in FULFILLABLE:
            raise InvalidStateError(
                f"An order that is {locked.status} cannot be fulfilled.",
                details={"status": locked.status, "allowed": sorted(FULFILLABLE)},
            )
        state = units_read(locked)
        to_deliver = state.to_deliver()  # before the moves change the rows in memory
        units_left_check(state, wanted)
        plan = plan_make(state, target, wanted)
        moves_apply(state, [plan], actor=actor)
        fulfilment = _write(
            state,
            plan,
            carrier=carrier,
            tracking_number=tracking_number,
            tracking_url=tracking_url,
            shipped=ship,
            actor=actor,
        )
        lines_fulfilled_add(wanted)
        allocations_save(state)
        units = sum(wanted.values())
        _order_follow(
            state,
            to_deliver=to_deliver,
            actor=actor,
            note=f"Fulfilment {fulfilment.number}: {units} unit(s) from {target.code}"
            + (" shipped." if ship else " packed."),
        )
        if ship:
            _shipped_email(locked, fulfilment)
    return fulfilment


def fulfilment_ship(*, fulfilment: Fulfilment, actor: User | None) -> Fulfilment:
    """Hand a pending parcel to the carrier: ``shipped`` with its time, and the shipped
    email (one per fulfilment). 409 ``invalid_state`` for a parcel not pending."""
    with transaction.atomic():
        locked_order = _lock(fulfilment.order_id)
        locked = Fulfilment.objects.select_for_update().get(pk=fulfilment.pk)
        if locked.status != FS.PENDING or locked_order.status not in SHIPPABLE:
            raise InvalidStateError(
                f"A fulfilment that is {locked.status} cannot be shipped.",
                details={"status": locked.status, "order_status": locked_order.status},
            )
        locked.status = FS.SHIPPED
        locked.shipped_at = timezone.now()
        locked.save(update_fields=["status", "shipped_at"])
        order_event_record(
            order=locked_order,
            note=f"Fulfilment {locked.number} shipped{_tracking_note(locked)}.",
            actor=actor,
            actor_kind=actor_kind(actor),
        )
        _shipped_email(locked_order, locked)
    return locked


def fulfilment_cancel(*, fulfilment: Fulfilment, actor: User | None) -> Fulfilment:
    """Cancel a parcel before it ships: its units are no longer fulfilled, every unit it
    moved from another warehouse goes back there through the ledger, and the order's
    status follows. 409 ``invalid_state`` for a parcel that is not pending or whose units
    are in a return; 409 ``insufficient_stock`` (nothing written) when a source warehouse
    no longer has the moved units on hand.
    """
    with transaction.atomic():
        locked_order = _lock(fulfilment.order_id)
        allocations = list(
            Allocation.objects.select_for_update()
            .filter(line__order=locked_order)
            .select_related("line")
            .order_by("line_id", "id")
        )
        locked = Fulfilment.objects.select_for_update().get(pk=fulfilment.pk)
        if locked.status != FS.PENDING:
            raise InvalidStateError(
                f"A fulfilment that is {locked.status} cannot be cancelled.",
                details={"status": locked.status, "allowed": [FS.PENDING]},
            )
        quantities = dict(
            FulfilmentLine.objects.filter(fulfilment=locked).values_list("line_id", "quantity")
        )
        lines_fulfilled_remove(quantities)
        to_deliver = units_to_deliver(allocations, restock_promised(locked_order))
        moves_reverse(locked_order, locked, allocations, actor=actor)
        locked.status = FS.CANCELLED
        locked.cancelled_at = timezone.now()
        locked.save(update_fields=["status", "cancelled_at"])
        state = UnitState(order=locked_order, lines={}, allocations={}, used={}, count=0)
        _order_follow(
            state,
            to_deliver=to_deliver,
            actor=actor,
            note=f"Fulfilment {locked.number} cancelled.",
        )
    return locked


def order_fulfil_all(
    *, order: Order, actor: User | None, carrier: str, tracking_number: str
) -> Order:
    """Ship everything left: one shipped fulfilment per warehouse holding free units of
    the order, carrier and tracking on the order too, the order ``fulfilled`` (the
    ``/orders/{id}/fulfil/`` action; one ``order_fulfilled`` email, no per-parcel ones).
    """
    with transaction.atomic():
        locked = _lock(order.pk)
        if locked.status not in FULFILLABLE:
            raise InvalidStateError(
                f"An order that is {locked.status} cannot become {S.FULFILLED}.",
                details={"status": locked.status, "allowed": sorted(FULFILLABLE)},
            )
        state = units_read(locked)
        to_deliver = state.to_deliver()
        plans: dict[int, Plan] = {}
        warehouses = {w.pk: w for w in Warehouse.objects.all()}
        for line in state.lines.values():
            left = state.left(line.pk)
            for allocation in state.allocations.get(line.pk, []):
                take = min(left, state.free(line.pk, allocation.warehouse_id))
                if take <= 0:
                    continue
                plan = plans.setdefault(
                    allocation.warehouse_id,
                    Plan(warehouse=warehouses[allocation.warehouse_id], quantities={}),
                )
                plan.quantities[line.pk] = plan.quantities.get(line.pk, 0) + take
                state.used[(line.pk, allocation.warehouse_id)] = (
                    state.used.get((line.pk, allocation.warehouse_id), 0) + take
                )
                left -= take
        total: dict[int, int] = defaultdict(int)
        for plan in sorted(plans.values(), key=lambda p: (p.warehouse.priority, p.warehouse.pk)):
            _write(
                state,
                plan,
                carrier=carrier,
                tracking_number=tracking_number,
                tracking_url="",
                shipped=True,
                actor=actor,
            )
            for line_id, quantity in plan.quantities.items():
                total[line_id] += quantity
        if not total:
            raise InvalidStateError(
                "No units of this order are left to fulfil.", details={"status": locked.status}
            )
        lines_fulfilled_add(total)
        locked.carrier = carrier
        locked.tracking_number = tracking_number
        _order_follow(
            state,
            to_deliver=to_deliver,
            actor=actor,
            note=f"Shipped with {carrier}, tracking {tracking_number}.",
            extra_fields=["carrier", "tracking_number"],
        )
        email_enqueue(order=locked, kind=EmailLog.Kind.ORDER_FULFILLED)
    return locked


# --- steps -------------------------------------------------------------------------------


def _lock(order_id: Any) -> Order:
    """The order re-read under its row lock (its status may have changed meanwhile)."""
    return Order.objects.select_for_update().get(pk=order_id)


def _wanted(lines: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    """``{line id: quantity}`` from the request, refusing repeats and quantities below 1."""
    if not lines:
        raise ValidationError("lines", "Name at least one line.")
    wanted: dict[int, int] = {}
    for item in lines:
        line_id, quantity = int(item["line"]), int(item["quantity"])
        if line_id in wanted:
            raise ValidationError("lines", f"Line {line_id} is named more than once.")
        if quantity < 1:
            raise ValidationError("lines", f"The quantity of line {line_id} must be at least 1.")
        wanted[line_id] = quantity
    return wanted


def _warehouse(code: str) -> Warehouse:
    warehouse = Warehouse.objects.filter(code=code).first()
    if warehouse is None:
        raise ValidationError("warehouse", f"No warehouse has the code {code!r}.")
    if not warehouse.is_active:
        raise ValidationError("warehouse", f"The warehouse {code!r} is not active.")
    return warehouse


def _write(
    state: UnitState,
    plan: Plan,
    *,
    carrier: str,
    tracking_number: str,
    tracking_url: str,
    shipped: bool,
    actor: User | None,
) -> Fulfilment:
    state.count += 1
    now = timezone.now()
    fulfilment = Fulfilment.objects.create(
        order=state.order,
        number=f"{state.order.number}-F{state.count}",
        warehouse=plan.warehouse,
        status=FS.SHIPPED if shipped else FS.PENDING,
        carrier=carrier,
        tracking_number=tracking_number,
        tracking_url=tracking_url,
        created_by=actor,
        shipped_at=now if shipped else None,
    )
    FulfilmentLine.objects.bulk_create(
        [
            FulfilmentLine(fulfilment=fulfilment, line_id=line_id, quantity=quantity)
            for line_id, quantity in plan.quantities.items()
        ]
    )
    for source, units in plan.moves:
        source.returned += units
        state.touched[source.pk] = source
        state.new_allocations.append(
            Allocation(
                line_id=source.line_id,
                warehouse=plan.warehouse,
                quantity=units,
                fulfilment=fulfilment,
                source=source,
            )
        )
    return fulfilment


def _order_follow(
    state: UnitState,
    *,
    to_deliver: int,
    actor: User | None,
    note: str,
    extra_fields: list[str] | None = None,
) -> None:
    """The order's status from the units in live parcels (read again: one query):
    ``fulfilled`` once they cover ``to_deliver`` (the units still allocated, less those a
    pending refund restocks: units a refund restocked are no longer to be sent)."""
    order = state.order
    totals = OrderLine.objects.filter(order=order).aggregate(fulfilled=Sum("quantity_fulfilled"))
    fulfilled = totals["fulfilled"] or 0
    if fulfilled and fulfilled >= to_deliver:
        target = S.FULFILLED
    elif fulfilled:
        target = S.PARTIALLY_FULFILLED
    else:
        target = S.PARTIALLY_REFUNDED if order.refunded_total > 0 else S.PAID
    fields = list(extra_fields or [])
    if target != S.FULFILLED and order.fulfilled_at is not None:
        order.fulfilled_at = None
        fields.append("fulfilled_at")
    kind = actor_kind(actor)
    if order.status == target or order.status in KEEPS_STATUS:
        if fields:
            order.save(update_fields=[*fields, "updated_at"])
        order_event_record(order=order, note=note, actor=actor, actor_kind=kind)
        return
    order_transition(
        order=order, to_status=target, actor=actor, actor_kind=kind, note=note, extra_fields=fields
    )


def _shipped_email(order: Order, fulfilment: Fulfilment) -> None:
    email_enqueue(order=order, kind=EmailLog.Kind.ORDER_SHIPPED, reference=fulfilment.number)


def _tracking_note(fulfilment: Fulfilment) -> str:
    parts = []
    if fulfilment.carrier:
        parts.append(f" with {fulfilment.carrier}")
    if fulfilment.tracking_number:
        parts.append(f", tracking {fulfilment.tracking_number}")
    return "".join(parts)
