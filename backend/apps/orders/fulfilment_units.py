"""Which units a parcel takes, and the stock they move: the steps of ``apps.orders.fulfilments``.

Everything here runs inside the caller's transaction, under the order's row lock. The
units a line may ship from a warehouse are its open allocation there less the units in
live parcels from there (``UnitState.free``); a line's units left to pack are those still
allocated less those in live parcels and those a pending refund will restock
(``UnitState.left``); a shortfall is moved from the line's other
allocations through the ledger (``release`` at the source, ``sale`` at the parcel's
warehouse) and recorded as an ``Allocation`` with ``fulfilment`` and ``source``.
``quantity_fulfilled`` changes with one conditional UPDATE that the database checks too.
A fixed number of queries whatever the number of lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.db.models import Case, F, Q, Sum, When

from apps.accounts.models import User
from apps.catalog.models import Stock, StockMovement, Warehouse
from apps.catalog.stock import StockKey, stock_apply, stock_lock, warehouse_default
from apps.orders.models import Allocation, Fulfilment, FulfilmentLine, Order, OrderLine
from utils.errors import InsufficientStockError, InvalidStateError, ValidationError

FS = Fulfilment.Status


@dataclass
class UnitState:
    """What one order's fulfilments are decided from, read under its locks."""

    order: Order
    lines: dict[int, OrderLine]
    allocations: dict[int, list[Allocation]]  # per line, oldest first
    used: dict[tuple[int, int], int]  # (line id, warehouse id) -> units in live fulfilments
    count: int  # fulfilments the order has (the next number is count + 1)
    # Per line, units pending refunds will restock: reserved, no parcel may take them.
    promised: dict[int, int] = field(default_factory=dict)
    new_allocations: list[Allocation] = field(default_factory=list)
    touched: dict[int, Allocation] = field(default_factory=dict)

    def left(self, line_id: int) -> int:
        """Units of the line a new parcel may take: still allocated (not given back by a
        refund with restock or a cancellation), not in a live parcel, not promised to a
        pending refund's restock."""
        open_ = sum(a.quantity - a.returned for a in self.allocations.get(line_id, []))
        line = self.lines[line_id]
        return max(0, open_ - line.quantity_fulfilled - self.promised.get(line_id, 0))

    def to_deliver(self) -> int:
        """Units the order still has to send, in parcels or not: what ``fulfilled`` means
        (units restocked by a refund, or promised to one, are no longer to be sent)."""
        return units_to_deliver(
            [a for rows in self.allocations.values() for a in rows], self.promised
        )

    def free(self, line_id: int, warehouse_id: int) -> int:
        open_ = sum(
            a.quantity - a.returned
            for a in self.allocations.get(line_id, [])
            if a.warehouse_id == warehouse_id
        )
        return max(0, open_ - self.used.get((line_id, warehouse_id), 0))


@dataclass
class Plan:
    """One fulfilment to write: units per line and the stock moves it needs."""

    warehouse: Warehouse
    quantities: dict[int, int]
    moves: list[tuple[Allocation, int]] = field(default_factory=list)  # (source, units)


def units_read(order: Order) -> UnitState:
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
    return UnitState(
        order=order,
        lines=lines,
        allocations=allocations,
        used=used,
        count=count,
        promised=restock_promised(order),
    )


def restock_promised(order: Order) -> dict[int, int]:
    """Per line id, the units pending refunds of ``order`` will restock (one query)."""
    from apps.payments.services.refund_plan import restock_promised as promised  # payments

    return promised(order)  # imports orders: read here, at call time


def units_to_deliver(allocations: Iterable[Allocation], promised: Mapping[int, int]) -> int:
    """The order's units still allocated less those promised to pending refunds' restock
    (moves between warehouses keep the sum: the source's ``returned`` goes up by what
    the moved allocation holds)."""
    return sum(a.quantity - a.returned for a in allocations) - sum(promised.values())


def units_left_check(state: UnitState, wanted: Mapping[int, int]) -> None:
    unknown = sorted(line_id for line_id in wanted if line_id not in state.lines)
    if unknown:
        raise ValidationError(
            "lines", f"Not lines of this order: {', '.join(str(i) for i in unknown)}."
        )
    over = {
        str(line_id): state.left(line_id)
        for line_id, quantity in sorted(wanted.items())
        if quantity > state.left(line_id)
    }
    if over:
        raise ValidationError(
            "lines",
            "More units than are left to fulfil.",
            extra={"left_to_fulfil": over},
        )


def plan_make(state: UnitState, warehouse: Warehouse, wanted: Mapping[int, int]) -> Plan:
    """Where each wanted unit comes from: free at ``warehouse``, else moved from the
    line's other allocations (the last allocated first)."""
    plan = Plan(warehouse=warehouse, quantities=dict(wanted))
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


def moves_apply(state: UnitState, plans: Iterable[Plan], *, actor: User | None) -> None:
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
    for changes, reason in (
        (released, StockMovement.Reason.RELEASE),
        (sold, StockMovement.Reason.SALE),
    ):
        stock_apply(
            changes=changes,
            reason=reason,
            order=state.order,
            actor=actor,
            note=note,
            locked=rows,
        )


def _check_cover(
    rows: Mapping[StockKey, Stock], sold: Mapping[StockKey, int], state: UnitState
) -> None:
    skus = {line.variant_id: line.sku for line in state.lines.values()}
    short = _shortages(rows, sold, skus)
    if short:
        raise InsufficientStockError(
            "The warehouse does not have the units this fulfilment must take over.",
            details={"variants": short},
        )


def _shortages(
    rows: Mapping[StockKey, Stock], sold: Mapping[StockKey, int], skus: Mapping[int | None, str]
) -> list[dict[str, object]]:
    """The (variant, warehouse) rows that ``sold`` would take below zero, for a 409."""
    short: list[dict[str, object]] = []
    for key in sorted(sold):
        row = rows.get(key)
        available = row.on_hand if row is not None else 0
        if available + sold[key] < 0:
            short.append(
                {
                    "variant_id": key[0],
                    "sku": skus.get(key[0], ""),
                    "warehouse_id": key[1],
                    "warehouse": row.warehouse.code if row is not None else "",
                    "requested": -sold[key],
                    "available": available,
                }
            )
    return short


def allocations_save(state: UnitState) -> None:
    if state.touched:
        Allocation.objects.bulk_update(list(state.touched.values()), ["returned"])
    if state.new_allocations:
        Allocation.objects.bulk_create(state.new_allocations)


def lines_fulfilled_add(quantities: Mapping[int, int]) -> None:
    """One UPDATE adding to ``quantity_fulfilled``, only where it stays within ``quantity``."""
    if not _lines_fulfilled_shift(quantities, +1, limit="quantity"):
        raise ValidationError("lines", "More units than are left to fulfil.")


def lines_fulfilled_remove(quantities: Mapping[int, int]) -> None:
    """One UPDATE taking a cancelled parcel's units off, never below the units returned."""
    if not _lines_fulfilled_shift(quantities, -1, limit="quantity_returned"):
        raise InvalidStateError(
            "Units of this fulfilment are in a return request.",
            details={"lines": sorted(quantities)},
        )


def _lines_fulfilled_shift(quantities: Mapping[int, int], sign: int, *, limit: str) -> bool:
    """Move ``quantity_fulfilled`` by ``sign * n`` per line in one UPDATE, each line only
    while it stays on the right side of ``limit`` (another column); False if any line
    would cross it (someone else moved these units first: nothing is written then, as
    the caller's transaction rolls back)."""
    if not quantities:
        return True
    if sign > 0:  # quantity_fulfilled + n <= limit
        guards = (
            Q(pk=pk, **{f"{limit}__gte": F("quantity_fulfilled") + n})
            for pk, n in quantities.items()
        )
    else:  # quantity_fulfilled - n >= limit
        guards = (Q(pk=pk, quantity_fulfilled__gte=F(limit) + n) for pk, n in quantities.items())
    updated = OrderLine.objects.filter(reduce(or_, guards)).update(
        quantity_fulfilled=Case(
            *(When(pk=pk, then=F("quantity_fulfilled") + sign * n) for pk, n in quantities.items())
        )
    )
    return bool(updated == len(quantities))


def moves_reverse(
    order: Order, fulfilment: Fulfilment, allocations: list[Allocation], *, actor: User | None
) -> None:
    """Move every unit a cancelled parcel took over back to the warehouse it was allocated
    at, through the ledger (``release`` at the parcel's warehouse, ``sale`` at the source).

    All or nothing: when a source warehouse no longer has the units on hand (sold or
    written off since the move put them back on sale there), 409 ``insufficient_stock``
    names what is short where, and nothing is written (the caller's transaction rolls
    back). A fixed number of queries (one stock lock, one bulk update, the ledger)."""
    by_pk = {a.pk: a for a in allocations}
    moved = [
        a
        for a in allocations
        if a.fulfilment_id == fulfilment.pk and a.source_id and a.quantity > a.returned
    ]
    if not moved:
        return
    rows = stock_lock(variant_ids=[a.line.variant_id for a in moved if a.line.variant_id])
    released: dict[StockKey, int] = defaultdict(int)
    sold: dict[StockKey, int] = defaultdict(int)
    touched: dict[int, Allocation] = {}
    for allocation in moved:
        source = by_pk[allocation.source_id]  # type: ignore[index]
        units = allocation.quantity - allocation.returned
        if source.returned < units:  # the rows disagree: refuse rather than guess
            raise InvalidStateError(
                f"Allocation {source.pk} gave fewer units than parcel {fulfilment.number} "
                "took over from it.",
                details={"fulfilment": fulfilment.number, "allocation": source.pk},
            )
        allocation.returned += units
        source.returned -= units
        touched[allocation.pk] = allocation
        touched[source.pk] = source
        variant_id = allocation.line.variant_id
        if variant_id is None:  # a deleted variant has no stock rows (nor a ledger) left
            continue
        released[(variant_id, allocation.warehouse_id)] += units
        sold[(variant_id, source.warehouse_id)] -= units
    _back_cover(rows, sold, fulfilment, {a.line.variant_id: a.line.sku for a in moved})
    Allocation.objects.bulk_update(list(touched.values()), ["returned"])
    note = f"Fulfilment {fulfilment.number} cancelled: units moved back."
    for changes, reason in (
        (released, StockMovement.Reason.RELEASE),
        (sold, StockMovement.Reason.SALE),
    ):
        stock_apply(
            changes=changes, reason=reason, order=order, actor=actor, note=note, locked=rows
        )


def _back_cover(
    rows: Mapping[StockKey, Stock],
    sold: Mapping[StockKey, int],
    fulfilment: Fulfilment,
    skus: Mapping[int | None, str],
) -> None:
    """409 ``insufficient_stock`` unless each source warehouse has the units on hand."""
    short = _shortages(rows, sold, skus)
    if short:
        raise InsufficientStockError(
            f"Fulfilment {fulfilment.number} moved units that their warehouse no longer has "
            "on hand: receive them there (or ship the parcel) before cancelling it.",
            details={"fulfilment": fulfilment.number, "variants": short},
        )
