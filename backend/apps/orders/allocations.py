"""Giving stock back to the warehouses an order's lines were allocated from.

Checkout records an ``Allocation`` per (line, warehouse) it took from. A
cancellation or a refund with restock returns units to those warehouses, the last
allocated first, and counts them in ``Allocation.returned`` so no warehouse gets
back more than it gave. Two queries whatever the number of lines (read, bulk update),
then the caller's ``stock_apply``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from apps.catalog.stock import StockKey, warehouse_default
from apps.orders.models import Allocation, Order


def allocations_give_back(
    *, order: Order, quantities: Mapping[int, int] | None = None
) -> dict[StockKey, int]:
    """Stock changes (per variant, warehouse) giving back ``quantities`` per line id
    (None: everything still out), marked returned on the allocations.

    Call inside the transaction that applies the changes (the allocations are locked).
    A line with no allocation (none recorded) gives back to the default warehouse.
    """
    allocations = list(
        Allocation.objects.select_for_update()
        .filter(line__order=order, line__variant__isnull=False)
        .select_related("line")
        .order_by("line_id", "-id")
    )
    by_line: dict[int, list[Allocation]] = defaultdict(list)
    for allocation in allocations:
        by_line[allocation.line_id].append(allocation)
    changes: dict[StockKey, int] = defaultdict(int)
    touched: list[Allocation] = []
    if quantities is None:
        quantities = {
            line_id: sum(a.quantity - a.returned for a in rows) for line_id, rows in by_line.items()
        }
    unallocated: dict[int, int] = {}
    for line_id, wanted in quantities.items():
        remaining = wanted
        for allocation in by_line.get(line_id, []):  # the last allocated first
            take = min(remaining, allocation.quantity - allocation.returned)
            if take <= 0:
                continue
            allocation.returned += take
            touched.append(allocation)
            changes[(allocation.line.variant_id or 0, allocation.warehouse_id)] += take
            remaining -= take
        if remaining > 0 and line_id not in by_line:
            unallocated[line_id] = remaining
    if touched:
        Allocation.objects.bulk_update(touched, ["returned"])
    if unallocated:
        from apps.orders.models import OrderLine

        warehouse_id = warehouse_default().pk
        lines = OrderLine.objects.filter(pk__in=unallocated, variant__isnull=False)
        for line_id, variant_id in lines.values_list("pk", "variant_id"):
            changes[(variant_id, warehouse_id)] += unallocated[line_id]
    return dict(changes)
