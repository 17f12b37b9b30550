"""Refunds: request one (within what is left), have the provider pay it, apply the result.

``refund_create`` runs inside the caller's transaction when there is one (order
cancellation calls it right after moving a paid order to ``cancelled``). It
reserves the amount (pending refunds count against what is left) and fixes
what will be restocked; the provider is called by ``refund_process`` in a task,
outside any transaction, with the refund's idempotency key; ``refund_apply_result``
(shared with the ``refund.succeeded`` webhook) updates payment, order, stock and email.

Restock rule (``refund_plan`` computes it): ``restock=True`` on a refund of everything
that is left restocks every line still out (unless ``lines`` narrow it); a partial
refund restocks only the ``lines`` it names ([{"line_id" or "sku", "quantity"}]).
Units already given back (``release`` on cancellation, earlier ``restock``) or promised
to a pending refund are never returned twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.models import Stock, StockMovement
from apps.catalog.stock import stock_apply
from apps.integrations.events import order_payload
from apps.integrations.models import EventType
from apps.integrations.services import event_emit
from apps.notifications.models import EmailLog
from apps.notifications.services import email_enqueue
from apps.orders.allocations import allocations_give_back
from apps.orders.models import Order, OrderEvent
from apps.orders.transitions import can_transition, order_event_record, order_transition
from apps.payments.models import Payment, Refund
from apps.payments.providers import get_provider
from apps.payments.providers.base import (
    PaymentProviderError,
    ProviderUnavailableError,
    RefundStatus,
)
from apps.payments.services.locks import payment_lock_with_order
from apps.payments.services.refund_plan import (
    refund_restock_plan,
    refund_restockable,
    refund_tax,
)
from apps.payments.services.results import Applied, RefundOutcome
from utils.decimal_utils import ZERO, money_sum, to_str
from utils.errors import InvalidStateError, NotFoundError, ValidationError
from workers.base import TransientError
from workers.enqueue import enqueue_on_commit

logger = logging.getLogger(__name__)

S = Order.Status


def refund_create(
    *,
    order: Order,
    amount: Decimal | None,
    restock: bool,
    reason: str,
    actor: User | None,
    lines: Sequence[Mapping[str, Any]] | None = None,
    tax_amount: Decimal | None = None,
) -> Refund:
    """Request a refund of ``amount`` (None: all that is left) of the order's captured payment.

    ``tax_amount`` is the tax inside ``amount`` when the caller priced it per line (a
    return, ``refund_units_value``); otherwise it is prorated on the order's tax. Either
    way it never exceeds what earlier refunds left of the order's tax.

    409 ``invalid_state`` if nothing was captured or nothing is left; 400
    ``validation_error`` if ``amount`` exceeds what is left (captured minus refunded
    and pending refunds) or the restock lines are wrong. The provider is called
    by ``refund_process_task`` after commit.
    """
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        payment = (
            Payment.objects.select_for_update()
            .filter(order=locked, status=Payment.Status.CAPTURED)
            .first()
        )
        if payment is None:
            raise InvalidStateError(
                "The order has no captured payment to refund.", details={"status": locked.status}
            )
        pending = list(Refund.objects.filter(payment=payment, status=Refund.Status.PENDING))
        pending_total = money_sum(r.amount for r in pending)
        left = payment.amount - payment.refunded_amount - pending_total
        figures = {
            "captured": to_str(payment.amount),
            "refunded": to_str(payment.refunded_amount),
            "pending": to_str(pending_total),
            "refundable": to_str(max(left, ZERO)),
        }
        if left <= 0:
            raise InvalidStateError("Nothing is left to refund.", details=figures)
        requested = left if amount is None else amount
        if requested <= 0:
            raise ValidationError("amount", "Must be more than zero.", extra=figures)
        if requested > left:
            raise ValidationError(
                "amount", f"At most {to_str(left)} can be refunded.", extra=figures
            )
        plan = refund_restock_plan(
            order=locked, restock=restock, lines=lines, full=requested == left, pending=pending
        )
        refund = Refund.objects.create(
            payment=payment,
            order=locked,
            amount=requested,
            tax_amount=_tax_inside(locked, requested, last=requested == left, given=tax_amount),
            currency=payment.currency,
            reason=reason[:500],
            restock=bool(plan),
            restock_lines=plan,
            created_by=actor,
        )
        from apps.payments.tasks import refund_process_task  # tasks import services

        enqueue_on_commit(refund_process_task, str(refund.id))
    refund.refresh_from_db()  # where tasks run eagerly (dev), the refund may be done already
    return refund


def _tax_inside(order: Order, amount: Decimal, *, last: bool, given: Decimal | None) -> Decimal:
    if given is None:
        return refund_tax(order=order, amount=amount, last=last)
    return min(given, refund_tax(order=order, amount=amount, last=True))  # the tax still left


def refund_process(*, refund_id: str, final_attempt: bool = False) -> Refund | None:
    """Have the provider pay a pending refund, then apply the answer; else a no-op."""
    refund = _attempt_start(refund_id=refund_id)
    if refund is None:
        return Refund.objects.filter(pk=refund_id).first()
    payment = refund.payment
    try:
        result = get_provider(payment.provider).refund(
            payment_reference=payment.provider_reference,
            amount=refund.amount,
            currency=refund.currency,
            idempotency_key=refund.idempotency_key,
            metadata={
                "refund_id": str(refund.id),
                "payment_id": str(payment.id),
                "order_id": str(refund.order_id),
            },
        )
    except ProviderUnavailableError as exc:
        if not final_attempt:
            raise TransientError(f"refund {refund.id}: {exc.message}") from exc
        return refund_apply_result(
            refund_id=refund.id, succeeded=False, error=f"provider_unavailable: {exc.message}"
        ).refund
    except (PaymentProviderError, NotFoundError) as exc:
        reason = getattr(exc, "reason", exc.code)
        logger.error("refund %s refused by %s: %s", refund.id, payment.provider, exc)
        return refund_apply_result(
            refund_id=refund.id, succeeded=False, error=f"{reason}: {exc.message}"
        ).refund
    if result.status == RefundStatus.PENDING:
        # Accepted; the provider's refund webhook settles it. Never ask twice.
        Refund.objects.filter(pk=refund.id).update(provider_reference=result.reference)
        refund.provider_reference = result.reference
        return refund
    return refund_apply_result(
        refund_id=refund.id, succeeded=True, provider_reference=result.reference
    ).refund


def _attempt_start(*, refund_id: Any) -> Refund | None:
    with transaction.atomic():
        refund = (
            Refund.objects.select_for_update(of=("self",))
            .select_related("payment")
            .filter(pk=refund_id)
            .first()
        )
        if refund is None or refund.status != Refund.Status.PENDING:
            return None
        if refund.provider_reference:
            return None  # the provider accepted it already and will tell us by webhook
        refund.attempts += 1
        refund.last_attempt_at = timezone.now()
        refund.next_attempt_at = None
        refund.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
        return refund


def refund_retry_scheduled(*, refund_id: Any, at: datetime) -> None:
    """Record on a pending refund that it retries at ``at`` (before the retry is sent)."""
    Refund.objects.filter(pk=refund_id, status=Refund.Status.PENDING).update(next_attempt_at=at)


def refund_apply_result(
    *,
    refund_id: Any,
    succeeded: bool,
    provider_reference: str = "",
    error: str = "",
    actor_kind: str = OrderEvent.ActorKind.SYSTEM,
) -> RefundOutcome:
    """Apply the provider's answer to a refund once (shared with the refund webhook).

    On success: payment and order totals, order status (``refunded`` or
    ``partially_refunded``; an event only for a cancelled order), restock
    movements and the ``refund_issued`` email, in one transaction.
    """
    with transaction.atomic():
        ids = Refund.objects.filter(pk=refund_id).values("order_id", "payment_id").first()
        if ids is None:
            raise NotFoundError("Refund not found.")
        order = Order.objects.select_for_update().get(pk=ids["order_id"])
        payment = Payment.objects.select_for_update().get(pk=ids["payment_id"])
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status == Refund.Status.SUCCEEDED:
            return RefundOutcome(refund, Applied.UNCHANGED, "already succeeded")
        if not succeeded:
            if refund.status != Refund.Status.PENDING:
                return RefundOutcome(refund, Applied.UNCHANGED, f"already {refund.status}")
            return _refund_failed(order, refund, error)
        if payment.refunded_amount + refund.amount > payment.amount:
            note = f"Refund {refund.id} succeeded at the provider but exceeds what was captured."
            logger.error("%s (order %s)", note, order.number)
            return RefundOutcome(refund, Applied.ERROR, note)
        return _refund_succeeded(order, payment, refund, provider_reference, actor_kind)


def _refund_failed(order: Order, refund: Refund, error: str) -> RefundOutcome:
    refund.status = Refund.Status.FAILED
    refund.last_error = error[:500]
    refund.completed_at = timezone.now()
    refund.save(update_fields=["status", "last_error", "completed_at"])
    order_event_record(
        order=order, note=f"Refund {refund.id} of {refund.amount} {refund.currency} failed: {error}"
    )
    return RefundOutcome(refund, Applied.APPLIED)


def refund_duplicate_create(*, order: Order, payment: Payment) -> Refund:
    """A full refund of a ``duplicate`` payment (inside the caller's transaction, which
    holds the order and payment locks); ``refund_process_task`` pays it after commit."""
    refund = Refund.objects.create(
        payment=payment,
        order=order,
        amount=payment.amount - payment.refunded_amount,
        currency=payment.currency,
        kind=Refund.Kind.DUPLICATE_CHARGE,
        reason=f"Duplicate charge: payment {payment.id} succeeded after another was captured.",
    )
    from apps.payments.tasks import refund_process_task  # tasks import services

    enqueue_on_commit(refund_process_task, str(refund.id))
    return refund


def refund_external_record(
    *, payment_id: Any, amount: Decimal, reference: str, actor_kind: str
) -> RefundOutcome:
    """Record a refund made at the provider, outside the shop (e.g. the Stripe dashboard).

    A succeeded ``external`` refund: the payment's and order's refunded totals and the
    order's status follow, nothing is restocked (ops decide what comes back), the
    order's timeline says so. ``ERROR`` (nothing written) if it exceeds what is left.
    """
    with transaction.atomic():
        locked = payment_lock_with_order(payment_id=payment_id)
        if locked is None:
            raise NotFoundError("Payment not found.")
        order, payment = locked
        if reference:
            existing = Refund.objects.filter(payment=payment, provider_reference=reference).first()
            if existing is not None and existing.status == Refund.Status.SUCCEEDED:
                return RefundOutcome(existing, Applied.UNCHANGED, "already recorded")
            # Stripe's charge.refunded may carry only the charge's total (no refund id);
            # its refund.created then names the same refund: recorded once.
            unnamed = Refund.objects.filter(
                payment=payment, kind=Refund.Kind.EXTERNAL, provider_reference="", amount=amount
            ).first()
            if unnamed is not None:
                unnamed.provider_reference = reference
                unnamed.save(update_fields=["provider_reference"])
                return RefundOutcome(unnamed, Applied.UNCHANGED, "already recorded")
        left = payment.amount - payment.refunded_amount
        refund = Refund(
            payment=payment,
            order=order,
            amount=amount,
            currency=payment.currency,
            kind=Refund.Kind.EXTERNAL,
            reason=f"Refunded at {payment.provider} ({reference or 'no reference'}).",
            provider_reference=reference,
        )
        if amount <= 0 or amount > left:
            note = (
                f"External refund {reference} of {amount} {payment.currency} exceeds what is "
                f"left on payment {payment.id} ({left})."
            )
            logger.error("%s (order %s)", note, order.number)
            return RefundOutcome(refund, Applied.ERROR, note)
        refund.save()
        logger.warning(
            "external refund %s of %s %s on payment %s (order %s)",
            reference,
            amount,
            payment.currency,
            payment.id,
            order.number,
        )
        return _refund_succeeded(order, payment, refund, reference, actor_kind)


def _refund_succeeded(
    order: Order, payment: Payment, refund: Refund, reference: str, actor_kind: str
) -> RefundOutcome:
    refund.status = Refund.Status.SUCCEEDED
    refund.provider_reference = reference or refund.provider_reference
    refund.completed_at = timezone.now()
    refund.last_error = ""
    refund.save(update_fields=["status", "provider_reference", "completed_at", "last_error"])
    payment.refunded_amount += refund.amount
    payment.save(update_fields=["refunded_amount", "updated_at"])
    if refund.kind == Refund.Kind.DUPLICATE_CHARGE:
        # The order never counted this payment: its totals and status stay as they are.
        order_event_record(
            order=order,
            note=f"Duplicate charge refunded: refund {refund.id}, {refund.amount} "
            f"{refund.currency} of payment {payment.id}.",
            actor_kind=actor_kind,
        )
        return RefundOutcome(refund, Applied.APPLIED)
    order.refunded_total += refund.amount
    note = f"Refund {refund.id}: {refund.amount} {refund.currency}. {refund.reason}".strip()
    target = S.REFUNDED if payment.refunded_amount >= payment.amount else S.PARTIALLY_REFUNDED
    if order.status != S.CANCELLED and can_transition(order, target):
        order_transition(
            order=order,
            to_status=target,
            actor=refund.created_by,
            actor_kind=OrderEvent.ActorKind.STAFF if refund.created_by_id else actor_kind,
            note=note,
            extra_fields=["refunded_total"],
        )
    else:  # a cancelled order keeps its status; the refund is on its timeline
        order.save(update_fields=["refunded_total", "updated_at"])
        order_event_record(order=order, note=note, actor=refund.created_by, actor_kind=actor_kind)
        # The transition emits order.refunded itself; a cancelled order's refund is one too.
        event_emit(event_type=EventType.ORDER_REFUNDED, payload=lambda: order_payload(order))
    _restock(order, refund)
    # A return's refund settles the return and tells the customer about it instead.
    from apps.returns.refunds import return_refund_settle  # returns call refund_create

    if not return_refund_settle(order=order, refund=refund):
        email_enqueue(order=order, kind=EmailLog.Kind.REFUND_ISSUED, reference=str(refund.id))
    return RefundOutcome(refund, Applied.APPLIED)


def _restock(order: Order, refund: Refund) -> None:
    """Put the planned units back, never more than the order still has out, into the
    warehouses the lines were allocated from (the last allocated first)."""
    if not refund.restock_lines:
        return
    available = refund_restockable(order)
    quantities: dict[int, int] = defaultdict(int)
    for line in refund.restock_lines:
        quantity = min(int(line["quantity"]), available.get(int(line["line_id"]), 0))
        if quantity > 0:
            quantities[int(line["line_id"])] += quantity
    planned = allocations_give_back(order=order, quantities=quantities)
    stocked = set(
        Stock.objects.filter(variant_id__in={vid for vid, _ in planned}).values_list(
            "variant_id", "warehouse_id"
        )
    )
    changes = {key: qty for key, qty in planned.items() if key in stocked}
    stock_apply(
        changes=changes,
        reason=StockMovement.Reason.RESTOCK,
        order=order,
        actor=refund.created_by,
        note=f"Refund {refund.id}",
    )
