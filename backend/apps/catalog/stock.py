"""Stock changes through the ledger: lock rows in (variant id, warehouse id) order, check,
apply in bulk; allocation over warehouses by priority; and the hourly reconciliation of
each warehouse's stock with its ledger.

Every caller (staff adjustment, checkout, cancellation, refund with restock)
goes through ``stock_apply``, inside its own ``transaction.atomic()``. The
number of queries does not grow with the number of variants: one locking
SELECT, one bulk UPDATE, one bulk INSERT of movements.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from apps.accounts.models import User
from apps.catalog.cache import catalog_changed
from apps.catalog.models import Stock, StockMovement, Variant, Warehouse
from apps.integrations.events import stock_low_payload
from apps.integrations.models import EventType
from apps.integrations.services import event_emit
from utils.errors import OutOfStockError

logger = logging.getLogger(__name__)


StockKey = tuple[int, int]  # (variant id, warehouse id)


def warehouse_default() -> Warehouse:
    """The warehouse with code ``default`` (made by the migration; created if missing)."""
    warehouse, _ = Warehouse.objects.get_or_create(
        code=Warehouse.DEFAULT_CODE,
        defaults={"name": "Default warehouse", "country": settings.DEFAULT_COUNTRY, "priority": 0},
    )
    return warehouse


def at_default(changes: Mapping[int, int]) -> dict[StockKey, int]:
    """Per-variant changes placed in the default warehouse (single-warehouse callers)."""
    warehouse_id = warehouse_default().pk
    return {(variant_id, warehouse_id): qty for variant_id, qty in changes.items()}


def stock_lock(*, variant_ids: Iterable[int]) -> dict[StockKey, Stock]:
    """Lock every stock row of these variants, in ascending (variant id, warehouse id) order.

    A fixed global lock order means two transactions that need overlapping rows
    queue behind each other instead of deadlocking. The rows come with their
    warehouse (not locked: ``of=("self",)``) for allocation by priority.
    """
    ids = sorted(set(variant_ids))
    if not ids:
        return {}
    rows = _locking_rows().filter(variant_id__in=ids)
    return {(row.variant_id, row.warehouse_id): row for row in rows}


def _on_hand_write(rows: list[Stock]) -> None:
    """Write these locked rows' ``on_hand`` in one ``UPDATE ... SET on_hand = CASE id ...``.

    The statement ``bulk_update(rows, ["on_hand"])`` sends, written directly: the ORM
    builds a ``When`` expression per row and compiles them all, about 0.5 ms of CPU for
    a three-line order, this about 0.03 ms (``bench/profile.md``, row "stock written in
    one plain statement"). Plain SQL that PostgreSQL and SQLite both read. No rows, no
    statement (``CASE`` and ``IN ()`` without terms are not SQL).
    """
    if not rows:
        return
    meta = Stock._meta
    connection = connections[Stock.objects.db]
    quote = connection.ops.quote_name
    pk, on_hand = quote(meta.pk.column), quote(meta.get_field("on_hand").column)
    cases = " ".join(["WHEN %s THEN CAST(%s AS integer)"] * len(rows))
    sql = (  # only names are formatted in; every value is a parameter
        f"UPDATE {quote(meta.db_table)} SET {on_hand} = CASE {pk} {cases} END "  # noqa: S608
        f"WHERE {pk} IN ({', '.join(['%s'] * len(rows))})"
    )
    params: list[int] = [value for row in rows for value in (row.pk, row.on_hand)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *(row.pk for row in rows)])


@functools.cache
def _locking_rows() -> QuerySet[Stock]:
    """``stock_lock``'s query without its variants, built once per process and cloned by
    every call (``bench/profile.md``, row "lines queries built once")."""
    return (
        Stock.objects.select_for_update(of=("self",))
        .select_related("warehouse")
        .order_by("variant_id", "warehouse_id")
    )


def stock_apply(
    *,
    changes: Mapping[StockKey, int],
    reason: str,
    order: Any = None,
    actor: User | None = None,
    note: str = "",
    locked: dict[StockKey, Stock] | None = None,
) -> dict[StockKey, Stock]:
    """Apply signed quantity changes per (variant id, warehouse id); one movement each.

    Refuses the whole change with ``OutOfStockError`` (nothing written) if any
    row would go below zero or does not exist; ``details.variants`` lists each
    short (variant, warehouse) with what is available there. Pass ``locked``
    when the caller already holds the locks (from ``stock_lock``) to save a query.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("stock_apply() must run inside transaction.atomic()")
    changes = {key: qty for key, qty in changes.items() if qty != 0}
    if not changes:
        return {}
    rows = locked if locked is not None else stock_lock(variant_ids=[vid for vid, _ in changes])

    short: list[dict[str, int]] = []
    for key in sorted(changes):
        row = rows.get(key)
        available = row.on_hand if row is not None else 0
        if row is None or available + changes[key] < 0:
            short.append(
                {
                    "variant_id": key[0],
                    "warehouse_id": key[1],
                    "requested": max(0, -changes[key]),
                    "available": available,
                }
            )
    if short:
        raise OutOfStockError(
            "Not enough stock for some items.",
            details={"variants": short},
        )

    updated = []
    for key, qty in changes.items():
        row = rows[key]
        row.on_hand += qty
        updated.append(row)
    _on_hand_write(updated)
    _stock_low_emit(rows, changes)
    catalog_changed(
        variant_ids={vid for vid, _ in changes}
    )  # these variants' cached pages, after commit
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                variant_id=variant_id,
                warehouse_id=warehouse_id,
                quantity=qty,
                reason=reason,
                order=order,
                actor=actor,
                note=note[:500],
            )
            for (variant_id, warehouse_id), qty in sorted(changes.items())
        ]
    )
    return rows


def stock_allocate(
    *, wanted: Mapping[int, int], locked: Mapping[StockKey, Stock]
) -> dict[int, list[tuple[int, int]]]:
    """Split each variant's wanted quantity over active warehouses by priority, then id.

    Returns ``{variant_id: [(warehouse_id, quantity), ...]}``; a variant that the
    active warehouses cannot cover gets what they have (callers compare the sum and
    refuse). ``locked`` are rows from ``stock_lock``, so no query is made here.
    """
    by_variant: dict[int, list[Stock]] = defaultdict(list)
    for row in locked.values():
        if row.warehouse.is_active and row.on_hand > 0:
            by_variant[row.variant_id].append(row)
    plan: dict[int, list[tuple[int, int]]] = {}
    for variant_id, quantity in wanted.items():
        remaining = quantity
        parts: list[tuple[int, int]] = []
        rows = sorted(by_variant[variant_id], key=lambda r: (r.warehouse.priority, r.warehouse_id))
        for row in rows:
            if remaining <= 0:
                break
            take = min(remaining, row.on_hand)
            parts.append((row.warehouse_id, take))
            remaining -= take
        plan[variant_id] = parts
    return plan


def stock_sellable(*, locked: Mapping[StockKey, Stock]) -> dict[int, int]:
    """Units on hand per variant over active warehouses (from locked rows, no query)."""
    totals: dict[int, int] = defaultdict(int)
    for row in locked.values():
        if row.warehouse.is_active:
            totals[row.variant_id] += row.on_hand
    return totals


def _stock_low_emit(rows: Mapping[StockKey, Stock], changes: Mapping[StockKey, int]) -> None:
    """A ``stock.low`` event per stock row this change took from above its threshold to it
    or below (once per crossing, not on every sale under the threshold)."""
    for key in sorted(changes):
        row = rows[key]
        threshold = row.low_stock_threshold
        if threshold is None or not (row.on_hand - changes[key] > threshold >= row.on_hand):
            continue

        def payload(row: Stock = row) -> dict[str, Any]:
            sku = Variant.objects.filter(pk=row.variant_id).values_list("sku", flat=True).first()
            return stock_low_payload(
                variant_id=row.variant_id,
                sku=sku or "",
                on_hand=row.on_hand,
                threshold=row.low_stock_threshold or 0,
            )

        event_emit(event_type=EventType.STOCK_LOW, payload=payload)


def stock_threshold_set(
    *, variant_id: int, threshold: int | None, warehouse_id: int | None = None
) -> Stock:
    """Set (or clear, with None) the level at which a variant's stock counts as low.

    Per warehouse; without ``warehouse_id`` it is set on every warehouse's row of the
    variant (the default warehouse's row is created if the variant has none).
    """
    with transaction.atomic():
        locked = stock_lock(variant_ids=[variant_id])
        rows = [r for key, r in locked.items() if warehouse_id is None or key[1] == warehouse_id]
        if not rows:
            row = Stock.objects.create(
                variant_id=variant_id,
                warehouse_id=warehouse_id or warehouse_default().pk,
                on_hand=0,
            )
            rows = [row]
        for row in rows:
            row.low_stock_threshold = threshold
        Stock.objects.bulk_update(rows, ["low_stock_threshold", "updated_at"])
    return rows[0]


def stock_ledger_total() -> Subquery:
    """A stock row's ledger total (the sum of its ``StockMovement`` rows), to annotate
    ``Stock`` with: NULL for a row with no movement."""
    return Subquery(
        StockMovement.objects.filter(
            variant_id=OuterRef("variant_id"), warehouse_id=OuterRef("warehouse_id")
        )
        .values("variant_id", "warehouse_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )


def stock_reconcile(*, limit: int = 1000) -> list[dict[str, int]]:
    """Compare each variant's on_hand with its ledger; record drifts, never overwrite.

    Each drift is a ``StockDrift`` row (the ops overview and ``/metrics`` count the
    unresolved ones) and a warning log line naming the variant. ``held`` is what
    open orders hold, for the person who investigates.
    """
    # Imported here: orders and ops import the catalogue.
    from apps.ops.services import stock_drifts_record
    from apps.orders.models import Order, OrderLine

    held = (
        OrderLine.objects.filter(
            variant_id=OuterRef("variant_id"),
            order__status__in=[Order.Status.PENDING_PAYMENT, Order.Status.PAID],
        )
        .values("variant_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    drifts = list(
        Stock.objects.annotate(
            ledger_sum=Coalesce(stock_ledger_total(), Value(0)),
            held=Coalesce(Subquery(held), Value(0)),
        )
        .exclude(on_hand=F("ledger_sum"))
        .order_by("variant_id", "warehouse_id")
        .values("variant_id", "warehouse_id", "on_hand", "ledger_sum", "held")[:limit]
    )
    stock_drifts_record(
        run_id=uuid.uuid4(),
        drifts=[
            {
                "variant_id": row["variant_id"],
                "warehouse_id": row["warehouse_id"],
                "on_hand": row["on_hand"],
                "ledger_sum": row["ledger_sum"],
                "held_by_open_orders": row["held"],
            }
            for row in drifts
        ],
    )
    for row in drifts:
        logger.warning(
            "stock drift: variant=%s warehouse=%s on_hand=%s ledger_sum=%s held_by_open_orders=%s",
            row["variant_id"],
            row["warehouse_id"],
            row["on_hand"],
            row["ledger_sum"],
            row["held"],
        )
    return drifts
