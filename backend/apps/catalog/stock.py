"""Stock changes through the ledger: lock rows in variant-id order, check, apply in bulk;
and the hourly reconciliation of stock with its ledger.

Every caller (staff adjustment, checkout, cancellation, refund with restock)
goes through ``stock_apply``, inside its own ``transaction.atomic()``. The
number of queries does not grow with the number of variants: one locking
SELECT, one bulk UPDATE, one bulk INSERT of movements.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.db.models import F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from apps.accounts.models import User
from apps.catalog.cache import catalog_changed
from apps.catalog.models import Stock, StockMovement, Variant
from apps.integrations.events import stock_low_payload
from apps.integrations.models import EventType
from apps.integrations.services import event_emit
from utils.errors import OutOfStockError

logger = logging.getLogger(__name__)


def stock_lock(*, variant_ids: Iterable[int]) -> dict[int, Stock]:
    """Lock the stock rows of these variants, always in ascending variant id order.

    A fixed lock order means two transactions that need overlapping variants
    queue behind each other instead of deadlocking.
    """
    ids = sorted(set(variant_ids))
    if not ids:
        return {}
    rows = Stock.objects.select_for_update().filter(variant_id__in=ids).order_by("variant_id")
    return {row.variant_id: row for row in rows}


def stock_apply(
    *,
    changes: Mapping[int, int],
    reason: str,
    order: Any = None,
    actor: User | None = None,
    note: str = "",
    locked: dict[int, Stock] | None = None,
) -> dict[int, Stock]:
    """Apply signed quantity changes per variant and write one movement each.

    Refuses the whole change with ``OutOfStockError`` (nothing written) if any
    variant would go below zero or has no stock row; ``details.variants`` lists
    each short variant with what is available. Pass ``locked`` when the caller
    already holds the locks (from ``stock_lock``) to save a query.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("stock_apply() must run inside transaction.atomic()")
    changes = {vid: qty for vid, qty in changes.items() if qty != 0}
    if not changes:
        return {}
    rows = locked if locked is not None else stock_lock(variant_ids=changes)

    short: list[dict[str, int]] = []
    for variant_id in sorted(changes):
        row = rows.get(variant_id)
        available = row.on_hand if row is not None else 0
        if row is None or available + changes[variant_id] < 0:
            short.append(
                {
                    "variant_id": variant_id,
                    "requested": max(0, -changes[variant_id]),
                    "available": available,
                }
            )
    if short:
        raise OutOfStockError(
            "Not enough stock for some items.",
            details={"variants": short},
        )

    updated = []
    for variant_id, qty in changes.items():
        row = rows[variant_id]
        row.on_hand += qty
        updated.append(row)
    Stock.objects.bulk_update(updated, ["on_hand"])
    _stock_low_emit(rows, changes)
    catalog_changed(variant_ids=changes)  # these variants' cached pages, after commit
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                variant_id=variant_id,
                quantity=qty,
                reason=reason,
                order=order,
                actor=actor,
                note=note[:500],
            )
            for variant_id, qty in sorted(changes.items())
        ]
    )
    return rows


def _stock_low_emit(rows: Mapping[int, Stock], changes: Mapping[int, int]) -> None:
    """A ``stock.low`` event per variant this change took from above its threshold to it
    or below (once per crossing, not on every sale under the threshold)."""
    for variant_id in sorted(changes):
        row = rows[variant_id]
        threshold = row.low_stock_threshold
        if threshold is None or not (row.on_hand - changes[variant_id] > threshold >= row.on_hand):
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


def stock_threshold_set(*, variant_id: int, threshold: int | None) -> Stock:
    """Set (or clear, with None) the level at which a variant's stock counts as low."""
    with transaction.atomic():
        row = stock_lock(variant_ids=[variant_id]).get(variant_id)
        if row is None:
            row = Stock.objects.create(variant_id=variant_id, on_hand=0)
        row.low_stock_threshold = threshold
        row.save(update_fields=["low_stock_threshold", "updated_at"])
    return row


def stock_reconcile(*, limit: int = 1000) -> list[dict[str, int]]:
    """Compare each variant's on_hand with its ledger; record drifts, never overwrite.

    Each drift is a ``StockDrift`` row (the ops overview and ``/metrics`` count the
    unresolved ones) and a warning log line naming the variant. ``held`` is what
    open orders hold, for the person who investigates.
    """
    # Imported here: orders and ops import the catalogue.
    from apps.ops.services import stock_drifts_record
    from apps.orders.models import Order, OrderLine

    ledger = (
        StockMovement.objects.filter(variant_id=OuterRef("variant_id"))
        .values("variant_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
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
            ledger_sum=Coalesce(Subquery(ledger), Value(0)),
            held=Coalesce(Subquery(held), Value(0)),
        )
        .exclude(on_hand=F("ledger_sum"))
        .order_by("variant_id")
        .values("variant_id", "on_hand", "ledger_sum", "held")[:limit]
    )
    stock_drifts_record(
        run_id=uuid.uuid4(),
        drifts=[
            {
                "variant_id": row["variant_id"],
                "on_hand": row["on_hand"],
                "ledger_sum": row["ledger_sum"],
                "held_by_open_orders": row["held"],
            }
            for row in drifts
        ],
    )
    for row in drifts:
        logger.warning(
            "stock drift: variant=%s on_hand=%s ledger_sum=%s held_by_open_orders=%s",
            row["variant_id"],
            row["on_hand"],
            row["ledger_sum"],
            row["held"],
        )
    return drifts
