"""Refunding a return: what its received units are worth, the refund that pays it, and
the settlement when the provider confirms (called by ``apps.payments``).

The amount is the returned units' share of each line's gross (its promotion, voucher
share and tax included) and the tax inside it their share of each line's tax, both
from ``refund_plan.refund_units_value``, handed to ``refund_create``. Receiving restocked
already, so the refund restocks nothing. Locks: the order, then the return
(``services.lock_for_step``), then the payment.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from apps.accounts.models import User
from apps.notifications.models import EmailLog
from apps.notifications.services import email_enqueue
from apps.orders.models import Order, OrderEvent
from apps.orders.transitions import order_event_record
from apps.payments.models import Refund
from apps.payments.services.refund_plan import refund_units_value
from apps.payments.services.refunds import refund_create
from apps.returns.models import ReturnLine, ReturnRequest
from apps.returns.services import lock_for_step
from apps.returns.transitions import return_transition, return_transition_check
from utils.decimal_utils import ZERO, money_sum, to_str
from utils.errors import InvalidStateError

R = ReturnRequest.Status


def return_refund_amounts(
    *, return_lines: Sequence[ReturnLine]
) -> dict[int, tuple[Decimal, Decimal]]:
    """(gross, tax) a refund gives back per return line, for its received units
    (``refund_plan.refund_units_value``: the line's snapshot prorated, the units that
    complete a line taking what earlier refunded returns left). One query."""
    line_ids = {rl.line_id for rl in return_lines}
    earlier = {
        row["line_id"]: row
        for row in ReturnLine.objects.filter(
            line_id__in=line_ids, return_request__status=R.REFUNDED
        )
        .values("line_id")
        .annotate(units=Sum("quantity_received"), gross=Sum("refund_amount"), tax=Sum("refund_tax"))
    }
    values: dict[int, tuple[Decimal, Decimal]] = {}
    for rl in return_lines:
        before = earlier.get(rl.line_id, {})
        values[rl.pk] = refund_units_value(
            line=rl.line,
            units=rl.quantity_received,
            earlier_units=int(before.get("units") or 0),
            earlier_gross=before.get("gross") or ZERO,
            earlier_tax=before.get("tax") or ZERO,
        )
    return values


def return_refund(*, return_request: ReturnRequest, actor: User | None) -> ReturnRequest:
    """Refund the received units of a return through ``refund_create`` (its tax part is
    prorated there); nothing is restocked by the refund (receiving did that).

    The return becomes ``refunded`` (and the customer gets the RETURN_REFUNDED email)
    when the provider confirms the refund (``return_refund_settle``); a refund that
    failed may be asked for again. 409 ``invalid_state`` unless the return is received
    with no refund pending or done; the refund service's own refusals (400 more than is
    left) change nothing.
    """
    with transaction.atomic():
        locked = lock_for_step(return_request)
        return_transition_check(return_request=locked, to_status=R.REFUNDED)
        if locked.refund_id is not None:
            current = Refund.objects.get(pk=locked.refund_id)
            if current.status != Refund.Status.FAILED:
                raise InvalidStateError(
                    f"The return's refund is {current.status} already.",
                    details={"refund": str(current.pk), "refund_status": current.status},
                )
        return_lines = list(ReturnLine.objects.filter(return_request=locked).select_related("line"))
        values = return_refund_amounts(return_lines=return_lines)
        for rl in return_lines:
            rl.refund_amount, rl.refund_tax = values[rl.pk]
        ReturnLine.objects.bulk_update(return_lines, ["refund_amount", "refund_tax"])
        total = money_sum(rl.refund_amount for rl in return_lines)
        if total <= 0:  # free items: nothing to pay back, the return is done
            return_transition(
                return_request=locked,
                to_status=R.REFUNDED,
                actor=actor,
                actor_kind=OrderEvent.ActorKind.STAFF,
                note="Nothing to refund.",
            )
            email_enqueue(
                order=locked.order, kind=EmailLog.Kind.RETURN_REFUNDED, reference=locked.number
            )
            return locked
        refund = refund_create(
            order=locked.order,
            amount=total,
            tax_amount=money_sum(rl.refund_tax for rl in return_lines),
            restock=False,
            reason=f"Return {locked.number} ({locked.reason}).",
            actor=actor,
        )
        locked.refund = refund
        locked.save(update_fields=["refund", "updated_at"])
        order_event_record(
            order=locked.order,
            note=f"Return {locked.number}: refund {refund.pk} of {to_str(total)} "
            f"{refund.currency} asked for.",
            actor=actor,
            actor_kind=OrderEvent.ActorKind.STAFF,
        )
    return locked


def return_refund_settle(*, order: Order, refund: Refund) -> bool:
    """Called by the refund service when ``refund`` succeeded, in its transaction (the
    order is locked): the return it pays becomes ``refunded`` and its email is queued.

    False when the refund pays no return (the caller sends its own refund email).
    """
    locked = ReturnRequest.objects.select_for_update().filter(refund=refund).first()
    if locked is None:
        return False
    locked.order = order
    if locked.status == R.RECEIVED:
        return_transition(
            return_request=locked,
            to_status=R.REFUNDED,
            actor=refund.created_by,
            actor_kind=(
                OrderEvent.ActorKind.STAFF if refund.created_by_id else OrderEvent.ActorKind.SYSTEM
            ),
            note=f"Refund {refund.pk} of {to_str(refund.amount)} {refund.currency} succeeded.",
        )
    email_enqueue(order=order, kind=EmailLog.Kind.RETURN_REFUNDED, reference=locked.number)
    return True
