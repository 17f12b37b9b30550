"""Returns: request one (and cancel it), then approve or reject and receive (restock) it;
the refund is in ``apps.returns.refunds``.

Every service locks the order row first (then the return), so two requests for the
same order run one after the other: the units a return may ask for are counted under
that lock, and concurrent requests can never promise more than was shipped. Each
step is a ``return_transition`` (an ``OrderEvent`` on the order); emails go through
the durable email log, once per return and kind. The number of queries does not grow
with the number of lines. Staff-only steps are guarded by the views, not here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.models import Stock, StockMovement, Warehouse
from apps.catalog.stock import stock_apply
from apps.notifications.models import EmailLog
from apps.notifications.services import email_enqueue
from apps.orders.models import Fulfilment, FulfilmentLine, Order, OrderEvent, OrderLine
from apps.orders.transitions import actor_kind, order_event_record
from apps.returns.errors import ReturnLinesInvalidError, ReturnWindowClosedError
from apps.returns.models import ReturnLine, ReturnRequest
from apps.returns.transitions import OPEN_STATUSES, return_transition, return_transition_check
from utils.errors import InvalidStateError, ValidationError

R = ReturnRequest.Status
S = Order.Status

# An order whose shipped units may be sent back.
RETURNABLE_ORDER_STATUSES = (S.FULFILLED, S.PARTIALLY_FULFILLED, S.PARTIALLY_REFUNDED)


@dataclass(frozen=True)
class Shipped:
    units: int  # of the line, in shipped fulfilments
    last_shipped_at: datetime | None


# --- Requesting a return ---------------------------------------------------------------


def _shipped(line_ids: set[int]) -> dict[int, Shipped]:
    """Per line, the units in shipped parcels and when the last of them shipped (1 query)."""
    rows = (
        FulfilmentLine.objects.filter(
            line_id__in=line_ids, fulfilment__status=Fulfilment.Status.SHIPPED
        )
        .values("line_id")
        .annotate(units=Sum("quantity"), last=Max("fulfilment__shipped_at"))
    )
    return {row["line_id"]: Shipped(int(row["units"] or 0), row["last"]) for row in rows}


def _promised(line_ids: set[int]) -> dict[int, int]:
    """Per line, the units in open returns (requested or approved; 1 query)."""
    rows = (
        ReturnLine.objects.filter(line_id__in=line_ids, return_request__status__in=OPEN_STATUSES)
        .values("line_id")
        .annotate(units=Sum("quantity"))
    )
    return {row["line_id"]: int(row["units"] or 0) for row in rows}


def returnable_units(*, line: OrderLine, shipped: Shipped | None, promised: int) -> int:
    """Units of ``line`` a new return may ask for: shipped (not merely packed), not
    returned already and not promised to an open return."""
    units = min(line.quantity_fulfilled, shipped.units if shipped else 0)
    return max(0, units - line.quantity_returned - promised)


def return_request_create(
    *,
    order: Order,
    lines: Sequence[Mapping[str, Any]],
    reason: str,
    note: str = "",
    actor: User | None,
) -> ReturnRequest:
    """Ask to return ``lines`` ([{"line": <order line id>, "quantity": n}]) of ``order``.

    409 ``invalid_state`` unless the order is fulfilled, partially fulfilled or
    partially refunded; 400 ``validation_error`` (``details.lines``, one entry per line
    sent) for a line not in the order, listed twice, never shipped, or more units than
    are returnable; 409 ``return_window_closed`` when a line's last parcel shipped more
    than ``RETURN_WINDOW_DAYS`` ago. Nothing is written on a refusal.
    """
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status not in RETURNABLE_ORDER_STATUSES:
            raise InvalidStateError(
                f"An order that is {locked.status} has nothing to return.",
                details={"status": locked.status, "allowed": list(RETURNABLE_ORDER_STATUSES)},
            )
        wanted = [(int(item["line"]), int(item["quantity"])) for item in lines]
        ids = {line_id for line_id, _ in wanted}
        order_lines = {line.pk: line for line in OrderLine.objects.filter(order=locked, pk__in=ids)}
        shipped = _shipped(ids)
        promised = _promised(ids)
        now = timezone.now()
        closes_after = timedelta(days=settings.RETURN_WINDOW_DAYS)
        errors: list[dict[str, list[str]]] = []
        closed: list[dict[str, Any]] = []
        seen: set[int] = set()
        for line_id, quantity in wanted:
            line = order_lines.get(line_id)
            if line is None:
                errors.append({"line": [f"No line {line_id} in this order."]})
                continue
            if line_id in seen:
                errors.append({"line": [f"Line {line_id} is listed twice."]})
                continue
            seen.add(line_id)
            parcel = shipped.get(line_id)
            if parcel is None or parcel.last_shipped_at is None:
                errors.append({"line": [f"Line {line_id} ({line.sku}) has not shipped."]})
                continue
            left = returnable_units(line=line, shipped=parcel, promised=promised.get(line_id, 0))
            if quantity > left:
                errors.append({"quantity": [f"At most {left} of {line.sku} can be returned."]})
                continue
            errors.append({})
            if parcel.last_shipped_at + closes_after < now:
                closed.append(
                    {
                        "line": line_id,
                        "sku": line.sku,
                        "shipped_at": parcel.last_shipped_at,
                        "window_closed_at": parcel.last_shipped_at + closes_after,
                    }
                )
        if any(errors):
            raise ReturnLinesInvalidError(errors)
        if closed:
            raise ReturnWindowClosedError(
                details={"lines": closed, "window_days": settings.RETURN_WINDOW_DAYS}
            )
        count = ReturnRequest.objects.filter(order=locked).count()
        return_request = ReturnRequest.objects.create(
            order=locked,
            number=f"{locked.number}-R{count + 1}",
            reason=reason,
            note=note,
            created_by=actor,
        )
        ReturnLine.objects.bulk_create(
            [
                ReturnLine(return_request=return_request, line_id=line_id, quantity=quantity)
                for line_id, quantity in wanted
            ]
        )
        units = sum(quantity for _, quantity in wanted)
        order_event_record(
            order=locked,
            note=f"Return {return_request.number} requested: {units} unit(s) of "
            f"{len(wanted)} line(s) ({reason}).",
            actor=actor,
            actor_kind=actor_kind(actor),
        )
    return return_request


def return_cancel(*, return_request: ReturnRequest, actor: User | None) -> ReturnRequest:
    """Withdraw a return that is ``requested`` or ``approved`` (nothing has arrived: only
    ``receive`` records arrived units, under the same locks): it becomes ``cancelled``
    and its units may be asked for again. The customer or a guest holding the order's
    token, or staff (access is the caller's check). 409 ``invalid_state`` from any other
    status, nothing written; so of a cancel racing a receive or a reject, exactly one wins.
    """
    with transaction.atomic():
        locked = lock_for_step(return_request)
        units = ReturnLine.objects.filter(return_request=locked).aggregate(n=Sum("quantity"))
        return_transition(
            return_request=locked,
            to_status=R.CANCELLED,
            actor=actor,
            actor_kind=actor_kind(actor),
            note=f"Withdrawn: {units['n'] or 0} unit(s) may be returned again.",
        )
    return locked


# --- Staff steps -------------------------------------------------------------------------


def lock_for_step(return_request: ReturnRequest) -> ReturnRequest:
    """The order's row, then the return's, locked (the one lock order of every step)."""
    order = Order.objects.select_for_update().get(pk=return_request.order_id)
    locked = ReturnRequest.objects.select_for_update().get(pk=return_request.pk)
    locked.order = order
    return locked


def return_approve(*, return_request: ReturnRequest, actor: User | None) -> ReturnRequest:
    """Approve a requested return; the customer is emailed (once) to send it back."""
    with transaction.atomic():
        locked = lock_for_step(return_request)
        return_transition(
            return_request=locked,
            to_status=R.APPROVED,
            actor=actor,
            actor_kind=OrderEvent.ActorKind.STAFF,
        )
        email_enqueue(
            order=locked.order, kind=EmailLog.Kind.RETURN_APPROVED, reference=locked.number
        )
    return locked


def return_reject(
    *, return_request: ReturnRequest, actor: User | None, staff_note: str
) -> ReturnRequest:
    """Refuse a requested (or approved, never received) return, saying why in
    ``staff_note`` (the email shows it); its units may be asked for again."""
    with transaction.atomic():
        locked = lock_for_step(return_request)
        return_transition_check(return_request=locked, to_status=R.REJECTED)
        locked.staff_note = staff_note
        return_transition(
            return_request=locked,
            to_status=R.REJECTED,
            actor=actor,
            actor_kind=OrderEvent.ActorKind.STAFF,
            note=staff_note,
            extra_fields=["staff_note"],
        )
        email_enqueue(
            order=locked.order, kind=EmailLog.Kind.RETURN_REJECTED, reference=locked.number
        )
    return locked


def return_receive(
    *, return_request: ReturnRequest, actor: User | None, lines: Sequence[Mapping[str, Any]]
) -> ReturnRequest:
    """Record what arrived of an approved return: per line ``{"line", "quantity",
    "restock", "warehouse"}`` (a warehouse code, required with ``restock: true``).

    Lines not named arrived with 0 units; at least one unit must have arrived (reject
    the return otherwise). The arrived units count in ``OrderLine.quantity_returned``;
    those restocked go back on the shelf of the chosen warehouse through the stock
    ledger (``restock`` movements naming the order, so a later refund with restock
    never puts them back twice).
    """
    with transaction.atomic():
        locked = lock_for_step(return_request)
        return_transition_check(return_request=locked, to_status=R.RECEIVED)
        return_lines = {
            rl.line_id: rl
            for rl in ReturnLine.objects.filter(return_request=locked).select_related("line")
        }
        codes = {str(item["warehouse"]) for item in lines if item.get("warehouse")}
        warehouses = {w.code: w for w in Warehouse.objects.filter(code__in=codes, is_active=True)}
        errors: list[dict[str, list[str]]] = []
        seen: set[int] = set()
        arrived: list[tuple[ReturnLine, int, bool, Warehouse | None]] = []
        for item in lines:
            line_id, quantity = int(item["line"]), int(item["quantity"])
            restock, code = bool(item.get("restock")), item.get("warehouse")
            return_line = return_lines.get(line_id)
            error: dict[str, list[str]] = {}
            if return_line is None:
                error["line"] = [f"Line {line_id} is not in this return."]
            elif line_id in seen:
                error["line"] = [f"Line {line_id} is listed twice."]
            elif quantity > return_line.quantity:
                error["quantity"] = [f"At most {return_line.quantity} were to come back."]
            if restock and not code:
                error["warehouse"] = ["Name the warehouse to restock to."]
            elif code and not restock:
                error["warehouse"] = ["A warehouse is only named with restock: true."]
            elif code and code not in warehouses:
                error["warehouse"] = [f"No active warehouse {code!r}."]
            if restock and return_line is not None and return_line.line.variant_id is None:
                error["restock"] = ["The variant no longer exists: it cannot be restocked."]
            errors.append(error)
            seen.add(line_id)
            if not error and return_line is not None:
                arrived.append((return_line, quantity, restock, warehouses.get(code or "")))
        if any(errors):
            raise ReturnLinesInvalidError(errors)
        if sum(quantity for _, quantity, _, _ in arrived) == 0:
            raise ValidationError(
                "lines", "Nothing arrived: record at least one unit, or reject the return."
            )
        changes: dict[tuple[int, int], int] = {}
        for return_line, quantity, restock, warehouse in arrived:
            return_line.quantity_received = quantity
            return_line.restock = restock and quantity > 0
            return_line.restock_warehouse = warehouse if return_line.restock else None
            return_line.line.quantity_returned += quantity
            if return_line.restock and warehouse is not None and return_line.line.variant_id:
                key = (return_line.line.variant_id, warehouse.pk)
                changes[key] = changes.get(key, 0) + quantity
        ReturnLine.objects.bulk_update(
            [rl for rl, *_ in arrived], ["quantity_received", "restock", "restock_warehouse"]
        )
        OrderLine.objects.bulk_update([rl.line for rl, *_ in arrived], ["quantity_returned"])
        _restock(locked, changes, actor)
        received = sum(quantity for _, quantity, _, _ in arrived)
        restocked = sum(changes.values())
        return_transition(
            return_request=locked,
            to_status=R.RECEIVED,
            actor=actor,
            actor_kind=OrderEvent.ActorKind.STAFF,
            note=f"{received} unit(s) arrived, {restocked} restocked.",
        )
    return locked


def _restock(
    return_request: ReturnRequest, changes: Mapping[tuple[int, int], int], actor: User | None
) -> None:
    """Put units back in the chosen warehouses through the ledger (a warehouse that never
    held the variant gets its stock row first, at 0, so ledger sums still equal stock)."""
    if not changes:
        return
    variant_ids = {variant_id for variant_id, _ in changes}
    existing = set(
        Stock.objects.filter(variant_id__in=variant_ids).values_list("variant_id", "warehouse_id")
    )
    missing = [key for key in changes if key not in existing]
    if missing:
        Stock.objects.bulk_create(
            [Stock(variant_id=v, warehouse_id=w, on_hand=0) for v, w in sorted(missing)],
            ignore_conflicts=True,
        )
    stock_apply(
        changes=changes,
        reason=StockMovement.Reason.RESTOCK,
        order=return_request.order,
        actor=actor,
        note=f"Return {return_request.number}",
    )
