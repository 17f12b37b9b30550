"""What a refund gives back besides money: the tax inside it and the units it restocks.

``refund_tax`` prorates the order's tax (the last refund takes what is left of it);
``refund_units_value`` is what some units of a line are worth back (a return), gross and
tax, prorated on the line's snapshot (the units that complete the line take the rest);
``refund_restock_plan`` turns ``restock`` and ``lines`` into the lines and quantities a
refund returns to stock: only units that never left, i.e. still allocated (not released
on cancellation nor restocked earlier), not in a parcel (``quantity_fulfilled``: packed
or shipped) and not promised to a pending refund. Shipped units come back through
returns (``apps.returns``), which restock what arrived; a packed parcel is cancelled
first. A pending refund's restock units are reserved: no parcel may take them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db.models import F, Sum

from apps.catalog.models import StockMovement
from apps.orders.models import Allocation, Order, OrderLine
from apps.payments.models import Refund
from utils.decimal_utils import ZERO, money_sum, quantize
from utils.errors import ValidationError

_RETURNED = (StockMovement.Reason.RELEASE, StockMovement.Reason.RESTOCK)


def refund_tax(*, order: Order, amount: Decimal, last: bool) -> Decimal:
    """The tax inside a refund of ``amount``: prorated, amount x order tax / order total,
    half-up to the cent. The refund of all that is left takes the order's tax minus what
    earlier refunds took, so an order's refunds give back exactly its tax."""
    if order.tax_total <= 0 or order.total <= 0:
        return ZERO
    if last:
        earlier = Refund.objects.filter(order=order).exclude(status=Refund.Status.FAILED)
        taken = money_sum(earlier.values_list("tax_amount", flat=True))
        return max(ZERO, quantize(order.tax_total - taken))
    return min(order.tax_total, quantize(amount * order.tax_total / order.total))


def refund_units_value(
    *, line: OrderLine, units: int, earlier_units: int, earlier_gross: Decimal, earlier_tax: Decimal
) -> tuple[Decimal, Decimal]:
    """(gross, tax) given back for ``units`` of ``line``: its gross (after its promotion
    and voucher share, tax included) and its tax prorated on the units, half-up to the
    cent, as the pricing rules round per line. When these units complete the line
    (``earlier_units`` already refunded), they take what earlier refunds left of it, so a
    line refunded in parts gives back exactly its total and its tax. Runs no query."""
    if units <= 0:
        return ZERO, ZERO
    if earlier_units + units >= line.quantity:
        return max(ZERO, line.line_total - earlier_gross), max(ZERO, line.tax - earlier_tax)
    share = Decimal(units) / Decimal(line.quantity)
    return quantize(line.line_total * share), quantize(line.tax * share)


def _returned_by_variant(order: Order) -> dict[int, int]:
    """Units already back on the shelf per variant (ledger): only for lines that have no
    allocation rows (orders older than allocations), where nothing else records them."""
    returned: dict[int, int] = defaultdict(int)
    rows = (
        StockMovement.objects.filter(order=order, reason__in=_RETURNED)
        .values("variant_id")
        .annotate(total=Sum("quantity"))
    )
    for row in rows:
        returned[row["variant_id"]] += row["total"] or 0
    return returned


def restock_promised(order: Order) -> dict[int, int]:
    """Per line id, the units pending refunds will restock (reserved: no parcel takes them)."""
    pending = Refund.objects.filter(order=order, status=Refund.Status.PENDING, restock=True)
    return _promised(pending.values_list("restock_lines", flat=True))


def _promised(restock_lines: Iterable[Sequence[Mapping[str, Any]]]) -> dict[int, int]:
    promised: dict[int, int] = defaultdict(int)
    for lines in restock_lines:
        for line in lines:
            promised[int(line["line_id"])] += int(line["quantity"])
    return dict(promised)


def refund_restockable(order: Order) -> dict[int, int]:
    """Per line id, the units of ``order`` a refund may restock: never shipped nor in a
    live parcel, still allocated (not given back by a cancellation or an earlier refund)
    and not promised to a pending refund. Shipped units come back through returns."""
    order_lines = list(OrderLine.objects.filter(order=order).order_by("pk"))
    return _restockable(order, order_lines, restock_promised(order))


def _restockable(
    order: Order, order_lines: Sequence[OrderLine], promised: Mapping[int, int]
) -> dict[int, int]:
    """Per line id, the units that can still be restocked (two queries)."""
    open_units = {
        row["line_id"]: int(row["units"] or 0)
        for row in Allocation.objects.filter(line__order=order)
        .values("line_id")
        .annotate(units=Sum(F("quantity") - F("returned")))
    }
    legacy = [line for line in order_lines if line.pk not in open_units]
    left_to_assign = _returned_by_variant(order) if legacy else {}
    result: dict[int, int] = {}
    for line in order_lines:
        if line.variant_id is None:
            result[line.pk] = 0
            continue
        if line.pk in open_units:
            still_out = open_units[line.pk]
        else:  # no allocation rows: the ledger says what came back (lines in order)
            already = min(line.quantity, left_to_assign.get(line.variant_id, 0))
            left_to_assign[line.variant_id] = left_to_assign.get(line.variant_id, 0) - already
            still_out = line.quantity - already
        unshipped = still_out - line.quantity_fulfilled - promised.get(line.pk, 0)
        result[line.pk] = max(0, unshipped)
    return result


def refund_restock_plan(
    *,
    order: Order,
    restock: bool,
    lines: Sequence[Mapping[str, Any]] | None,
    full: bool,
    pending: Sequence[Refund],
) -> list[dict[str, Any]]:
    if not restock:
        if lines:
            raise ValidationError("lines", "Lines are only used with restock: true.")
        return []
    order_lines = list(OrderLine.objects.filter(order=order).order_by("pk"))
    available = _restockable(order, order_lines, _promised(r.restock_lines for r in pending))
    wanted: dict[int, int] = defaultdict(int)
    if lines:
        by_id = {line.pk: line for line in order_lines}
        by_sku = {line.sku: line for line in order_lines}
        for item in lines:
            line = by_id.get(item.get("line_id") or 0) or by_sku.get(item.get("sku") or "")
            if line is None:
                raise ValidationError("lines", f"No such line in this order: {dict(item)}.")
            wanted[line.pk] += int(item["quantity"])
    elif full:
        wanted.update({pk: qty for pk, qty in available.items() if qty > 0})
    else:
        raise ValidationError("lines", "Name the lines to restock for a partial refund.")
    plan = []
    for line in order_lines:
        quantity = wanted.get(line.pk, 0)
        if quantity == 0:
            continue
        if quantity > available[line.pk]:
            raise ValidationError(
                "lines",
                f"Line {line.pk} ({line.sku}): at most {available[line.pk]} can be restocked "
                "(units packed or shipped come back through a return, not a refund).",
                extra={"restockable": {str(pk): n for pk, n in available.items()}},
            )
        plan.append(
            {
                "line_id": line.pk,
                "variant_id": line.variant_id,
                "sku": line.sku,
                "quantity": quantity,
            }
        )
    return plan
