"""What a refund gives back besides money: the tax inside it and the units it restocks.

``refund_tax`` prorates the order's tax (the last refund takes what is left of it);
``refund_units_value`` is what some units of a line are worth back (a return), gross and
tax, prorated on the line's snapshot (the units that complete the line take the rest);
``refund_restock_plan`` turns ``restock`` and ``lines`` into the lines and quantities a
refund returns to stock, never more than is still out: units released on cancellation,
restocked earlier or promised to a pending refund count against each line in order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from apps.catalog.models import StockMovement
from apps.orders.models import Order, OrderLine
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


def _returned_by_variant(order: Order, pending: Sequence[Refund]) -> dict[int, int]:
    """Units already back on the shelf (ledger) or promised to pending refunds."""
    returned: dict[int, int] = defaultdict(int)
    rows = (
        StockMovement.objects.filter(order=order, reason__in=_RETURNED)
        .values("variant_id")
        .annotate(total=Sum("quantity"))
    )
    for row in rows:
        returned[row["variant_id"]] += row["total"] or 0
    for refund in pending:
        for line in refund.restock_lines:
            returned[int(line["variant_id"])] += int(line["quantity"])
    return returned


def refund_restockable(order: Order) -> dict[int, int]:
    """Per line id, the units of ``order`` still out (what a succeeded refund may restock)."""
    order_lines = list(OrderLine.objects.filter(order=order).order_by("pk"))
    return _restockable(order_lines, _returned_by_variant(order, pending=[]))


def _restockable(order_lines: Sequence[OrderLine], returned: dict[int, int]) -> dict[int, int]:
    """Per line id, the units that can still be restocked (returns count against lines in order)."""
    left_to_assign = dict(returned)
    result: dict[int, int] = {}
    for line in order_lines:
        if line.variant_id is None:
            result[line.pk] = 0
            continue
        already = min(line.quantity, left_to_assign.get(line.variant_id, 0))
        left_to_assign[line.variant_id] = left_to_assign.get(line.variant_id, 0) - already
        result[line.pk] = line.quantity - already
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
    available = _restockable(order_lines, _returned_by_variant(order, pending))
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
                f"Line {line.pk} ({line.sku}): at most {available[line.pk]} can be restocked.",
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
