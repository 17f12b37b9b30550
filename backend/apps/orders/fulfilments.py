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
What does not belong here: returns (``apps.returns``), checkout's allocation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.db import transaction
from django.db.models import Case, F, Q, Sum, When
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.models import Stock, StockMovement, Warehouse
from apps.catalog.stock import StockKey, stock_apply, stock_lock, warehouse_default
from apps.notifications.models import EmailLog
from apps.notifications.services import email_enqueue
from apps.orders.models import Allocation, Fulfilment, FulfilmentLine, Order, OrderLine
from apps.orders.transitions import actor_kind, order_event_record, order_transition
from utils.errors import InsufficientStockError, InvalidStateError, ValidationError

S = Order.Status
FS = Fulfilment.Status

FULFILLABLE = frozenset({S.PAID, S.PARTIALLY_FULFILLED, S.PARTIALLY_REFUNDED})
SHIPPABLE = FULFILLABLE | {S.FULFILLED}
KEEPS_STATUS = frozenset({S.REFUNDED, S.CANCELLED})  # final: a parcel cancelled keeps them


@dataclass
class _OrderState:
    """What one order's fulfilments are decided from, read under its locks."""

    order: Order
    lines: dict[int, OrderLine]
    allocations: dict[int, list[Allocation]]  # per line, oldest first
    used: dict[tuple[int, int], int]  # (line id, warehouse id) -> units in live fulfilments
    count: int  # fulfilments the order has (the next number is count + 1)
    new_allocations: list[Allocation] = field(default_factory=list)
    touched: dict[int, Allocation] = field(default_factory=dict)

    def free(self, line_id: int, warehouse_id: int) -> int:
        open_ = sum(
            a.quantity - a.returned
            for a in self.allocations.get(line_id, [])
            if a.warehouse_id == warehouse_id
        )
        return max(0, open_ - self.used.get((line_id, warehouse_id), 0))


@dataclass
class _Plan:
    """One fulfilment to write: units per line and the stock moves it needs."""

    warehouse: Warehouse
    quantities: dict[int, int]
    moves: list[tuple[Allocation, int]] = field(default_factory=list)  # (source, units)


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
        state = _state(locked)
        _check_left(state, wanted)
        plan = _plan(state, target, wanted)
        _stock_move(state, [plan], actor=actor)
        fulfilment = _write(
            state,
            plan,
            carrier=carrier,
            tracking_number=tracking_number,
            tracking_url=tracking_url,
            shipped=ship,
            actor=actor,
        )
        _lines_fulfilled_add(wanted)
        _allocations_save(state)
        units = sum(wanted.values())
        _order_follow(
            state,
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
    """Cancel a parcel before it ships: its units are no longer fulfilled, units moved
    from another warehouse go back there through the ledger (as far as that warehouse
    still has them; the rest stays allocated where it is), and the order's status follows.
    409 ``invalid_state`` for a parcel that is not pending or whose units are in a return.
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
        _lines_fulfilled_remove(quantities)
        _moves_reverse(locked_order, locked, allocations, actor=actor)
        locked.status = FS.CANCELLED
        locked.cancelled_at = timezone.now()
        locked.save(update_fields=["status", "cancelled_at"])
        state = _OrderState(order=locked_order, lines={}, allocations={}, used={}, count=0)
        _order_follow(state, actor=actor, note=f"Fulfilment {locked.number} cancelled.")
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
        state = _state(locked)
        plans: dict[int, _Plan] = {}
        warehouses = {w.pk: w for w in Warehouse.objects.all()}
        for line in state.lines.values():
            left = line.quantity - line.quantity_fulfilled
            for allocation in state.allocations.get(line.pk, []):
                take = min(left, state.free(line.pk, allocation.warehouse_id))
                if take <= 0:
                    continue
                plan = plans.setdefault(
                    allocation.warehouse_id,
                    _Plan(warehouse=warehouses[allocation.warehouse_id], quantities={}),
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
        _lines_fulfilled_add(total)
        locked.carrier = carrier
        locked.tracking_number = tracking_number
        _order_follow(
            state,
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


def _state(order: Order) -> _OrderState:
    """The order's lines, its allocations (locked) and the units already in parcels.

    A line with no allocation (an order older than allocations) is taken to be allocated
    at the default warehouse, as ``allocations_give_back`` does, and the row is written.
    """
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order)}
    allocations: dict[int, list[Allocation]] = defaultdict(list)
    for allocation in (
        Allocation.objects.select_for_update().filter(line__order=order).order_by("line_id", "id")
    ):
        allocations[allocation.line_id].append(allocation)
    missing = [line for line in lines.values() if line.pk not in allocations]
    if missing:
        default = warehouse_default()
        for allocation in Allocation.objects.bulk_create(
            [Allocation(line=line, warehouse=default, quantity=line.quantity) for line in missing]
        ):
            allocations[allocation.line_id].append(allocation)
    used: dict[tuple[int, int], int] = {}
    rows = (
        FulfilmentLine.objects.filter(line__order=order)
        .exclude(fulfilment__status=FS.CANCELLED)
        .values("line_id", "fulfilment__warehouse_id")
        .annotate(units=Sum("quantity"))
    )
    for row in rows:
        used[(row["line_id"], row["fulfilment__warehouse_id"])] = row["units"]
    count = Fulfilment.objects.filter(order=order).count()
    return _OrderState(order=order, lines=lines, allocations=allocations, used=used, count=count)


def _check_left(state: _OrderState, wanted: Mapping[int, int]) -> None:
    unknown = sorted(line_id for line_id in wanted if line_id not in state.lines)
    if unknown:
        raise ValidationError(
            "lines", f"Not lines of this order: {', '.join(str(i) for i in unknown)}."
        )
    over = {
        str(line_id): state.lines[line_id].quantity - state.lines[line_id].quantity_fulfilled
        for line_id, quantity in sorted(wanted.items())
        if quantity > state.lines[line_id].quantity - state.lines[line_id].quantity_fulfilled
    }
    if over:
        raise ValidationError(
            "lines",
            "More units than are left to fulfil.",
            extra={"left_to_fulfil": over},
        )


def _plan(state: _OrderState, warehouse: Warehouse, wanted: Mapping[int, int]) -> _Plan:
    """Where each wanted unit comes from: free at ``warehouse``, else moved from the
    line's other allocations (the last allocated first)."""
    plan = _Plan(warehouse=warehouse, quantities=dict(wanted))
    unallocated: dict[str, int] = {}
    for line_id, quantity in wanted.items():
        short = quantity - state.free(line_id, warehouse.pk)
        if short > 0 and state.lines[line_id].variant_id is None:
            raise ValidationError(
                "lines",
                f"Line {line_id}'s variant no longer exists: fulfil it from the warehouse "
                "its units are allocated at.",
            )
        budget = {  # what each other warehouse can give, shared by its allocations
            a.warehouse_id: state.free(line_id, a.warehouse_id)
            for a in state.allocations[line_id]
            if a.warehouse_id != warehouse.pk
        }
        for source in reversed(state.allocations[line_id]):
            if short <= 0:
                break
            if source.warehouse_id == warehouse.pk:
                continue
            take = min(short, source.quantity - source.returned, budget[source.warehouse_id])
            if take <= 0:
                continue
            plan.moves.append((source, take))
            budget[source.warehouse_id] -= take
            short -= take
        if short > 0:
            unallocated[str(line_id)] = short
        state.used[(line_id, warehouse.pk)] = state.used.get((line_id, warehouse.pk), 0) + quantity
    if unallocated:
        raise InsufficientStockError(
            "Some units are not allocated to any warehouse any more (given back by a refund).",
            details={"warehouse": warehouse.code, "unallocated": unallocated},
        )
    return plan


def _stock_move(state: _OrderState, plans: Iterable[_Plan], *, actor: User | None) -> None:
    """The ledger of the moves: ``release`` at the source, ``sale`` at the parcel's warehouse."""
    released: dict[StockKey, int] = defaultdict(int)
    sold: dict[StockKey, int] = defaultdict(int)
    for plan in plans:
        for source, units in plan.moves:
            variant_id = state.lines[source.line_id].variant_id or 0
            released[(variant_id, source.warehouse_id)] += units
            sold[(variant_id, plan.warehouse.pk)] -= units
    if not released:
        return
    rows = stock_lock(variant_ids=[variant_id for variant_id, _ in released])
    _check_cover(rows, sold, state)
    number = state.order.number
    note = f"Order {number}: moved for a fulfilment."
    stock_apply(
        changes=released,
        reason=StockMovement.Reason.RELEASE,
        order=state.order,
        actor=actor,
        note=note,
        locked=rows,
    )
    stock_apply(
        changes=sold,
        reason=StockMovement.Reason.SALE,
        order=state.order,
        actor=actor,
        note=note,
        locked=rows,
    )


def _check_cover(
    rows: Mapping[StockKey, Stock], sold: Mapping[StockKey, int], state: _OrderState
) -> None:
    skus = {line.variant_id: line.sku for line in state.lines.values()}
    short = []
    for key in sorted(sold):
        row = rows.get(key)
        available = row.on_hand if row is not None else 0
        if available + sold[key] < 0:
            short.append(
                {
                    "variant_id": key[0],
                    "sku": skus.get(key[0], ""),
                    "warehouse_id": key[1],
                    "requested": -sold[key],
                    "available": available,
                }
            )
    if short:
        raise InsufficientStockError(
            "The warehouse does not have the units this fulfilment must take over.",
            details={"variants": short},
        )


def _write(
    state: _OrderState,
    plan: _Plan,
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


def _allocations_save(state: _OrderState) -> None:
    if state.touched:
        Allocation.objects.bulk_update(list(state.touched.values()), ["returned"])
    if state.new_allocations:
        Allocation.objects.bulk_create(state.new_allocations)


def _lines_fulfilled_add(quantities: Mapping[int, int]) -> None:
    """One UPDATE adding to ``quantity_fulfilled``, only where it stays within ``quantity``."""
    if not quantities:
        return
    condition = reduce(
        or_,
        (
            Q(pk=line_id, quantity__gte=F("quantity_fulfilled") + quantity)
            for line_id, quantity in quantities.items()
        ),
    )
    updated = OrderLine.objects.filter(condition).update(
        quantity_fulfilled=Case(
            *(
                When(pk=line_id, then=F("quantity_fulfilled") + quantity)
                for line_id, quantity in quantities.items()
            )
        )
    )
    if updated != len(quantities):  # someone fulfilled these units first
        raise ValidationError("lines", "More units than are left to fulfil.")


def _lines_fulfilled_remove(quantities: Mapping[int, int]) -> None:
    """One UPDATE taking a cancelled parcel's units off, never below the units returned."""
    if not quantities:
        return
    condition = reduce(
        or_,
        (
            Q(pk=line_id, quantity_fulfilled__gte=F("quantity_returned") + quantity)
            for line_id, quantity in quantities.items()
        ),
    )
    updated = OrderLine.objects.filter(condition).update(
        quantity_fulfilled=Case(
            *(
                When(pk=line_id, then=F("quantity_fulfilled") - quantity)
                for line_id, quantity in quantities.items()
            )
        )
    )
    if updated != len(quantities):
        raise InvalidStateError(
            "Units of this fulfilment are in a return request.",
            details={"lines": sorted(quantities)},
        )


def _moves_reverse(
    order: Order, fulfilment: Fulfilment, allocations: list[Allocation], *, actor: User | None
) -> None:
    """Move a cancelled parcel's taken-over units back where they were allocated, as far
    as that warehouse still has stock (what it lacks stays allocated where it is)."""
    by_pk = {a.pk: a for a in allocations}
    moved = [a for a in allocations if a.fulfilment_id == fulfilment.pk and a.source_id]
    if not moved:
        return
    rows = stock_lock(variant_ids=[a.line.variant_id for a in moved if a.line.variant_id])
    released: dict[StockKey, int] = defaultdict(int)
    sold: dict[StockKey, int] = defaultdict(int)
    touched: dict[int, Allocation] = {}
    for allocation in moved:
        source = by_pk[allocation.source_id]  # type: ignore[index]
        variant_id = allocation.line.variant_id
        if variant_id is None:
            continue
        back_key = (variant_id, source.warehouse_id)
        row = rows.get(back_key)
        room = (row.on_hand if row is not None else 0) + sold[back_key]
        units = min(allocation.quantity - allocation.returned, source.returned, room)
        if units <= 0:
            continue
        allocation.returned += units
        source.returned -= units
        touched[allocation.pk] = allocation
        touched[source.pk] = source
        released[(variant_id, allocation.warehouse_id)] += units
        sold[back_key] -= units
    if not touched:
        return
    Allocation.objects.bulk_update(list(touched.values()), ["returned"])
    note = f"Fulfilment {fulfilment.number} cancelled: units moved back."
    for changes, reason in (
        (released, StockMovement.Reason.RELEASE),
        (sold, StockMovement.Reason.SALE),
    ):
        stock_apply(
            changes=changes, reason=reason, order=order, actor=actor, note=note, locked=rows
        )


def _order_follow(
    state: _OrderState,
    *,
    actor: User | None,
    note: str,
    extra_fields: list[str] | None = None,
) -> None:
    """The order's status from the units in live parcels (read again: one query)."""
    order = state.order
    totals = OrderLine.objects.filter(order=order).aggregate(
        ordered=Sum("quantity"), fulfilled=Sum("quantity_fulfilled")
    )
    ordered, fulfilled = totals["ordered"] or 0, totals["fulfilled"] or 0
    if fulfilled and fulfilled >= ordered:
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
