"""Capture a payment, apply a provider's answer to it, and let a customer pay again.

Transaction boundaries around the provider call (never a lock held across the network):

1. ``_attempt_start``: lock order and payment, check the payment is ``pending``
   and its order still payable, count the attempt; commit.
2. Call the provider with ``payment.idempotency_key``, outside any transaction:
   a redelivered task or a retry presents the same key and is never charged twice.
3. ``payment_apply_result``: lock order and payment again and apply the answer
   if it still makes sense. The webhook path calls the same function, so
   whichever of the two arrives first wins and the other changes nothing.

Lock order everywhere: order, then payment (then refund, then stock).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.notifications.models import EmailLog
from apps.notifications.services import email_enqueue
from apps.orders.models import Order, OrderEvent
from apps.orders.transitions import actor_kind, order_event_record, order_transition
from apps.payments.metrics import payment_settled_observe
from apps.payments.models import Payment
from apps.payments.providers import get_provider
from apps.payments.providers.base import (
    ChargeStatus,
    PaymentDeclinedError,
    PaymentProvider,
    PaymentProviderError,
    ProviderUnavailableError,
)
from apps.payments.services.refunds import refund_create
from apps.payments.services.results import Applied, PaymentOutcome
from utils.errors import InvalidStateError, NotFoundError
from utils.telemetry import set_attribute, span
from workers.base import TransientError
from workers.enqueue import enqueue_on_commit

logger = logging.getLogger(__name__)

P = Payment.Status
S = Order.Status


def provider_for(name: str) -> PaymentProvider:
    """The provider a stored row names; a disabled one is a provider error, not a 404."""
    try:
        return get_provider(name)
    except NotFoundError as exc:
        raise PaymentProviderError(
            f"Payment provider {name!r} is not enabled.", reason="provider_not_enabled"
        ) from exc


def payment_capture(*, payment_id: str, final_attempt: bool = False) -> Payment | None:
    """Charge a ``pending`` payment and apply the result; anything else is a no-op.

    A transient provider failure raises ``TransientError`` (the task retries with
    backoff) unless ``final_attempt``: then the payment fails with
    ``provider_unavailable``.
    """
    payment = _attempt_start(payment_id=payment_id)
    if payment is None:
        return Payment.objects.filter(pk=payment_id).first()
    with span("payment.capture", payment_id=str(payment.id), provider=payment.provider):
        set_attribute("payment.attempt", payment.attempts)
        try:
            result = provider_for(payment.provider).charge(
                amount=payment.amount,
                currency=payment.currency,
                token=payment.payment_method,
                idempotency_key=payment.idempotency_key,
                metadata={"payment_id": str(payment.id), "order_id": str(payment.order_id)},
            )
        except ProviderUnavailableError as exc:
            if not final_attempt:
                raise TransientError(f"payment {payment.id}: {exc.message}") from exc
            outcome = payment_apply_result(
                payment_id=payment.id,
                status=P.FAILED,
                failure_code="provider_unavailable",
                failure_message=f"Gave up after {payment.attempts} attempts: {exc.message}",
            )
        except PaymentDeclinedError as exc:
            outcome = payment_apply_result(
                payment_id=payment.id,
                status=P.FAILED,
                failure_code=exc.decline_code,
                failure_message=exc.message,
                actor_kind=OrderEvent.ActorKind.PROVIDER,
            )
        except PaymentProviderError as exc:
            logger.error("payment %s refused by %s: %s", payment.id, payment.provider, exc)
            outcome = payment_apply_result(
                payment_id=payment.id,
                status=P.FAILED,
                failure_code=exc.reason,
                failure_message=exc.message,
            )
        else:
            outcome = payment_apply_result(
                payment_id=payment.id,
                status=P.CAPTURED if result.status == ChargeStatus.SUCCEEDED else P.REQUIRES_ACTION,
                provider_reference=result.reference,
                actor_kind=OrderEvent.ActorKind.PROVIDER,
            )
        set_attribute("payment.status", outcome.payment.status)
    return outcome.payment


def _attempt_start(*, payment_id: Any) -> Payment | None:
    """Count an attempt on a pending payment and commit; None if there is nothing to do."""
    with transaction.atomic():
        order_id = Payment.objects.filter(pk=payment_id).values_list("order_id", flat=True).first()
        if order_id is None:
            return None
        order = Order.objects.select_for_update().get(pk=order_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != P.PENDING:
            return None
        if order.status != S.PENDING_PAYMENT:
            # Cancelled (deadline, customer) or paid otherwise before we charged: don't charge.
            payment.status = P.FAILED
            payment.failure_code = "order_not_payable"
            payment.failure_message = f"The order is {order.status}; nothing was charged."
            payment.save(update_fields=["status", "failure_code", "failure_message", "updated_at"])
            return None
        payment.attempts += 1
        payment.last_attempt_at = timezone.now()
        payment.next_attempt_at = None  # this is the attempt that was scheduled
        payment.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at", "updated_at"])
        return payment


def payment_retry_scheduled(*, payment_id: Any, at: datetime) -> None:
    """Record on a pending payment that its capture retries at ``at`` (before it is sent)."""
    Payment.objects.filter(pk=payment_id, status=P.PENDING).update(
        next_attempt_at=at, updated_at=timezone.now()
    )


def payment_apply_result(
    *,
    payment_id: Any,
    status: str,
    provider_reference: str = "",
    failure_code: str = "",
    failure_message: str = "",
    actor_kind: str = OrderEvent.ActorKind.SYSTEM,
) -> PaymentOutcome:
    """Apply a provider's answer (captured, failed, requires_action) once.

    Shared by the capture task and the webhook processor. Re-locks the order and
    the payment; a result equal to the current state is ``UNCHANGED``, a failure
    after a capture is ``STALE`` and changes nothing.
    """
    with transaction.atomic():
        order_id = Payment.objects.filter(pk=payment_id).values_list("order_id", flat=True).first()
        if order_id is None:
            raise NotFoundError("Payment not found.")
        order = Order.objects.select_for_update().get(pk=order_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status == status:
            return PaymentOutcome(payment, Applied.UNCHANGED, f"already {status}")
        if status == P.CAPTURED:
            return _captured(order, payment, provider_reference, actor_kind)
        if status == P.FAILED:
            return _failed(order, payment, failure_code, failure_message, actor_kind)
        if status == P.REQUIRES_ACTION:
            return _requires_action(payment, provider_reference)
        raise ValueError(f"cannot apply payment status {status!r}")


def _captured(order: Order, payment: Payment, reference: str, actor_kind: str) -> PaymentOutcome:
    money = f"{payment.amount} {payment.currency}"
    if order.payments.filter(status=P.CAPTURED).exclude(pk=payment.pk).exists():
        # The database allows one captured payment per order. Money moved twice:
        # say so loudly (event, log, failed webhook) so that ops refund it at the provider.
        note = (
            f"Payment {payment.id} ({money}) succeeded at {payment.provider} after another "
            "payment of this order was captured: refund it at the provider."
        )
        logger.error("%s (order %s)", note, order.number)
        order_event_record(order=order, note=note, actor_kind=actor_kind)
        return PaymentOutcome(payment, Applied.ERROR, note)
    payment.status = P.CAPTURED
    payment.captured_at = timezone.now()
    payment.provider_reference = reference or payment.provider_reference
    payment.failure_code = ""
    payment.failure_message = ""
    payment.save(
        update_fields=[
            "status",
            "captured_at",
            "provider_reference",
            "failure_code",
            "failure_message",
            "updated_at",
        ]
    )
    payment_settled_observe(payment)
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


def _failed(
    order: Order, payment: Payment, code: str, message: str, actor_kind: str
) -> PaymentOutcome:
    if payment.status == P.CAPTURED:
        return PaymentOutcome(payment, Applied.STALE, "stale: the payment is already captured")
    payment.status = P.FAILED
    payment.failure_code = (code or "payment_failed")[:64]
    payment.failure_message = message[:500]
    payment.save(update_fields=["status", "failure_code", "failure_message", "updated_at"])
    payment_settled_observe(payment)
    order_event_record(
        order=order,
        note=f"Payment {payment.id} failed: {payment.failure_code}.",
        actor_kind=actor_kind,
    )
    if order.status == S.PENDING_PAYMENT:
        # One email per failed payment; the customer may pay again until the deadline.
        email_enqueue(order=order, kind=EmailLog.Kind.PAYMENT_FAILED, reference=str(payment.id))
    return PaymentOutcome(payment, Applied.APPLIED)


def _requires_action(payment: Payment, reference: str) -> PaymentOutcome:
    if payment.status != P.PENDING:
        return PaymentOutcome(payment, Applied.STALE, f"stale: the payment is {payment.status}")
    payment.status = P.REQUIRES_ACTION
    payment.provider_reference = reference or payment.provider_reference
    payment.save(update_fields=["status", "provider_reference", "updated_at"])
    return PaymentOutcome(payment, Applied.APPLIED)


def payment_retry(*, order: Order, provider: str, token: str, actor: User | None = None) -> Payment:
    """Pay again: a new payment for a ``pending_payment`` order whose last payment failed."""
    get_provider(provider)  # unknown or disabled: 404 before anything is written
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != S.PENDING_PAYMENT:
            raise InvalidStateError(
                f"An order that is {locked.status} cannot be paid.",
                details={"status": locked.status},
            )
        latest = locked.payments.order_by("-created_at").first()
        if latest is not None and latest.status != P.FAILED:
            raise InvalidStateError(
                f"The order's latest payment is {latest.status}; pay again only after it failed.",
                details={"payment_id": str(latest.id), "payment_status": latest.status},
            )
        if locked.payment_deadline <= timezone.now():
            raise InvalidStateError(
                "The payment deadline has passed.",
                details={"payment_deadline": locked.payment_deadline.isoformat()},
            )
        payment = Payment.objects.create(
            order=locked,
            provider=provider,
            payment_method=token,
            amount=locked.total,
            currency=locked.currency,
        )
        order_event_record(
            order=locked,
            note=f"New payment {payment.id} ({provider}) after a failed one.",
            actor=actor,
            actor_kind=actor_kind(actor),
        )
        from apps.payments.tasks import payment_capture_task  # tasks import services

        enqueue_on_commit(payment_capture_task, str(payment.id))
    payment.refresh_from_db()  # where tasks run eagerly (dev), capture already happened
    return payment
