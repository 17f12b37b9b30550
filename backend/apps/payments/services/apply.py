"""Apply a provider's answer to a payment: ``payment_apply_result`` and its outcomes.

The one place a charge's result reaches the shop, whoever brings it: the capture task,
the webhook processor, ``payment_refresh``, the cancel task and the sandbox's bank page
(``payment_apply_charge_result`` for a ``ChargeResult``). Each call re-locks the order,
then the payment, and applies the answer only if it still makes sense.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.notifications.models import EmailLog
from apps.notifications.services import email_enqueue
from apps.orders.models import Order, OrderEvent
from apps.orders.transitions import order_event_record, order_transition
from apps.payments.metrics import payment_settled_observe
from apps.payments.models import Payment
from apps.payments.providers.base import ChargeResult, ChargeStatus
from apps.payments.services.locks import payment_lock_with_order
from apps.payments.services.refunds import refund_create, refund_duplicate_create
from apps.payments.services.results import Applied, PaymentOutcome
from utils.errors import NotFoundError

logger = logging.getLogger(__name__)

P = Payment.Status
S = Order.Status


def payment_apply_result(
    *,
    payment_id: Any,
    status: str,
    provider_reference: str = "",
    failure_code: str = "",
    failure_message: str = "",
    actor_kind: str = OrderEvent.ActorKind.SYSTEM,
    client_secret: str = "",
    next_action: Mapping[str, Any] | None = None,
) -> PaymentOutcome:
    """Apply a provider's answer (captured, failed, requires_action, cancelled) once.

    Shared by the capture task, the webhook processor, the sandbox's bank page,
    ``payment_refresh`` and the cancel task. Re-locks the order and the payment; a
    result equal to the current state is ``UNCHANGED``, a failure after a capture is
    ``STALE`` and changes nothing. A success while another payment of the order is
    captured makes this one a ``duplicate``, refunded in full by a task.
    """
    with transaction.atomic():
        locked = payment_lock_with_order(payment_id=payment_id)
        if locked is None:
            raise NotFoundError("Payment not found.")
        order, payment = locked
        if payment.status == status:
            return PaymentOutcome(payment, Applied.UNCHANGED, f"already {status}")
        if status == P.CAPTURED:
            return _captured(order, payment, provider_reference, actor_kind)
        if status == P.FAILED:
            return _failed(order, payment, failure_code, failure_message, actor_kind)
        if status == P.REQUIRES_ACTION:
            return _requires_action(payment, provider_reference, client_secret, next_action)
        if status == P.CANCELLED:
            return _cancelled(order, payment, actor_kind)
        raise ValueError(f"cannot apply payment status {status!r}")


def _captured(order: Order, payment: Payment, reference: str, actor_kind: str) -> PaymentOutcome:
    money = f"{payment.amount} {payment.currency}"
    if payment.status == P.DUPLICATE:
        return PaymentOutcome(payment, Applied.UNCHANGED, "already a refunded duplicate")
    if order.payments.filter(status=P.CAPTURED).exclude(pk=payment.pk).exists():
        return _duplicate(order, payment, reference, actor_kind)
    payment.status = P.CAPTURED
    payment.captured_at = timezone.now()
    payment.provider_reference = reference or payment.provider_reference
    payment.failure_code = ""
    payment.failure_message = ""
    payment_settle(payment, "captured_at", "provider_reference", "failure_code", "failure_message")
    if order.status == S.PENDING_PAYMENT:
        order_transition(
            order=order,
            to_status=S.PAID,
            actor_kind=actor_kind,
            note=f"Payment {payment.id} captured: {money} ({payment.provider}).",
        )
        email_enqueue(order=order, kind=EmailLog.Kind.ORDER_CONFIRMATION)
        return PaymentOutcome(payment, Applied.APPLIED)
    # The order was cancelled while the charge was in flight: keep the capture on
    # record and give the money back in full (no restock: cancelling released it).
    order_event_record(
        order=order,
        note=f"Payment {payment.id} captured ({money}) after the order became "
        f"{order.status}; refunding it in full.",
        actor_kind=actor_kind,
    )
    refund_create(
        order=order,
        amount=None,
        restock=False,
        reason=f"Captured after the order became {order.status}.",
        actor=None,
    )
    return PaymentOutcome(payment, Applied.APPLIED, "captured after cancellation; refunding")


def payment_settle(payment: Payment, *fields: str) -> None:
    """Save a final status (counted by the outcome metric after commit); what the client
    needed to authenticate is forgotten."""
    payment.client_secret = ""
    payment.next_action = {}
    payment.save(update_fields=["status", "client_secret", "next_action", "updated_at", *fields])
    payment_settled_observe(payment)


def _duplicate(order: Order, payment: Payment, reference: str, actor_kind: str) -> PaymentOutcome:
    """Money moved twice (a late 3-D Secure success, a provider race): give this one back.

    The database allows one captured payment per order, so this one becomes a
    ``duplicate`` and a full refund of kind ``duplicate_charge`` is queued (after
    commit), on the order's timeline and in the refunds ops review.
    """
    payment.status = P.DUPLICATE
    payment.captured_at = timezone.now()
    payment.provider_reference = reference or payment.provider_reference
    payment_settle(payment, "captured_at", "provider_reference")
    refund = refund_duplicate_create(order=order, payment=payment)
    note = (
        f"Payment {payment.id} ({payment.amount} {payment.currency}) succeeded at "
        f"{payment.provider} after another payment of this order was captured: "
        f"refunding it in full automatically (refund {refund.id})."
    )
    logger.warning("%s (order %s)", note, order.number)
    order_event_record(order=order, note=note, actor_kind=actor_kind)
    return PaymentOutcome(payment, Applied.APPLIED, note)


def _cancelled(order: Order, payment: Payment, actor_kind: str) -> PaymentOutcome:
    if payment.status not in (P.PENDING, P.REQUIRES_ACTION):
        return PaymentOutcome(payment, Applied.STALE, f"stale: the payment is {payment.status}")
    payment.status = P.CANCELLED
    payment_settle(payment)
    order_event_record(order=order, note=f"Payment {payment.id} cancelled.", actor_kind=actor_kind)
    return PaymentOutcome(payment, Applied.APPLIED)


def _failed(
    order: Order, payment: Payment, code: str, message: str, actor_kind: str
) -> PaymentOutcome:
    if payment.status in (P.CAPTURED, P.DUPLICATE, P.CANCELLED):
        return PaymentOutcome(payment, Applied.STALE, f"stale: the payment is {payment.status}")
    payment.status = P.FAILED
    payment.failure_code = (code or "payment_failed")[:64]
    payment.failure_message = message[:500]
    payment_settle(payment, "failure_code", "failure_message")
    order_event_record(
        order=order,
        note=f"Payment {payment.id} failed: {payment.failure_code}.",
        actor_kind=actor_kind,
    )
    if order.status == S.PENDING_PAYMENT:
        # One email per failed payment; the customer may pay again until the deadline.
        email_enqueue(order=order, kind=EmailLog.Kind.PAYMENT_FAILED, reference=str(payment.id))
    return PaymentOutcome(payment, Applied.APPLIED)


def _requires_action(
    payment: Payment, reference: str, client_secret: str, next_action: Mapping[str, Any] | None
) -> PaymentOutcome:
    if payment.status != P.PENDING:
        return PaymentOutcome(payment, Applied.STALE, f"stale: the payment is {payment.status}")
    payment.status = P.REQUIRES_ACTION
    payment.provider_reference = reference or payment.provider_reference
    payment.client_secret = client_secret[:255]
    payment.next_action = dict(next_action or {})
    payment.save(
        update_fields=[
            "status",
            "provider_reference",
            "client_secret",
            "next_action",
            "updated_at",
        ]
    )
    return PaymentOutcome(payment, Applied.APPLIED)


_RESULT_STATUS: dict[ChargeStatus, str] = {
    ChargeStatus.SUCCEEDED: P.CAPTURED,
    ChargeStatus.REQUIRES_ACTION: P.REQUIRES_ACTION,
    ChargeStatus.FAILED: P.FAILED,
    ChargeStatus.CANCELED: P.CANCELLED,
}


def payment_apply_charge_result(*, payment: Payment, result: ChargeResult) -> PaymentOutcome:
    """A provider's ``ChargeResult`` (refresh, cancel, the sandbox bank page) applied."""
    return payment_apply_result(
        payment_id=payment.pk,
        status=_RESULT_STATUS[result.status],
        provider_reference=result.reference,
        failure_code=result.failure_code,
        failure_message=result.failure_message,
        actor_kind=OrderEvent.ActorKind.PROVIDER,
        client_secret=result.client_secret,
        next_action=result.next_action,
    )
