"""Capture a payment, let a customer pay again, and ask the provider about a payment.

Transaction boundaries around the provider call (never a lock held across the network):

1. ``_attempt_start``: lock order and payment, check the payment is ``pending``
   and its order still payable, count the attempt; commit.
2. Call the provider with ``payment.idempotency_key``, outside any transaction:
   a redelivered task or a retry presents the same key and is never charged twice.
3. ``payment_apply_result`` (in ``services.apply``): lock order and payment again and
   apply the answer if it still makes sense. The webhook path calls the same function, so
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
from apps.orders.models import Order, OrderEvent
from apps.orders.transitions import actor_kind, order_event_record
from apps.payments.models import Payment
from apps.payments.providers import get_provider
from apps.payments.providers.base import (
    ChargeStatus,
    PaymentDeclinedError,
    PaymentProvider,
    PaymentProviderError,
    ProviderUnavailableError,
)
from apps.payments.services.apply import (
    payment_apply_charge_result,
    payment_apply_result,
    payment_settle,
)
from apps.payments.services.locks import payment_lock_with_order
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
                return_url=payment.return_url,
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
                client_secret=result.client_secret,
                next_action=result.next_action,
            )
        set_attribute("payment.status", outcome.payment.status)
    return outcome.payment


def _attempt_start(*, payment_id: Any) -> Payment | None:
    """Count an attempt on a pending payment and commit; None if there is nothing to do."""
    with transaction.atomic():
        locked = payment_lock_with_order(payment_id=payment_id)
        if locked is None:
            return None
        order, payment = locked
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


# What the latest payment may be for its order to be paid again.
_ABANDONABLE = (P.REQUIRES_ACTION,)
_PAYABLE_AGAIN = (P.FAILED, P.CANCELLED, *_ABANDONABLE)


def payment_retry(
    *,
    order: Order,
    provider: str,
    token: str,
    actor: User | None = None,
    return_url: str = "",
) -> Payment:
    """Pay again: a new payment for a ``pending_payment`` order whose latest payment
    failed, was cancelled, or waits for a customer who gave up (``requires_action``).

    An abandoned ``requires_action`` payment becomes ``cancelled`` in the same
    transaction and ``payment_cancel_task`` cancels it at the provider after commit
    (published before the new capture). Should it still succeed there (the customer
    finished the bank page meanwhile), whichever payment succeeds second is refunded
    automatically (``_duplicate``).
    """
    get_provider(provider)  # unknown or disabled: 404 before anything is written
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status != S.PENDING_PAYMENT:
            raise InvalidStateError(
                f"An order that is {locked.status} cannot be paid.",
                details={"status": locked.status},
            )
        latest = locked.payments.order_by("-created_at").first()
        if latest is not None and latest.status not in _PAYABLE_AGAIN:
            raise InvalidStateError(
                f"The order's latest payment is {latest.status}; pay again only after it "
                "failed, was cancelled or while it waits for customer authentication.",
                details={"payment_id": str(latest.id), "payment_status": latest.status},
            )
        if locked.payment_deadline <= timezone.now():
            raise InvalidStateError(
                "The payment deadline has passed.",
                details={"payment_deadline": locked.payment_deadline.isoformat()},
            )
        from apps.payments.tasks import (  # tasks import services
            payment_cancel_task,
            payment_capture_task,
        )

        abandoned = ""
        if latest is not None and latest.status in _ABANDONABLE:
            latest = Payment.objects.select_for_update().get(pk=latest.pk)
            latest.status = P.CANCELLED
            payment_settle(latest)
            abandoned = f" Payment {latest.id} was abandoned in requires_action: cancelling it."
            enqueue_on_commit(payment_cancel_task, str(latest.id))
        payment = Payment.objects.create(
            order=locked,
            provider=provider,
            payment_method=token,
            amount=locked.total,
            currency=locked.currency,
            return_url=return_url,
        )
        previous = latest.status if latest is not None else "none"
        order_event_record(
            order=locked,
            note=f"New payment {payment.id} ({provider}); the previous one: {previous}."
            + abandoned,
            actor=actor,
            actor_kind=actor_kind(actor),
        )
        enqueue_on_commit(payment_capture_task, str(payment.id))
    payment.refresh_from_db()  # where tasks run eagerly (dev), capture already happened
    return payment


def payment_refresh(*, payment: Payment) -> Payment:
    """Ask the provider for the payment's current status and apply it (idempotent with
    the webhook: the same ``payment_apply_result``).

    A payment the provider has not seen yet (still ``pending`` with no reference)
    or one already final is returned as it is. 503 ``provider_unavailable`` if the
    provider cannot answer now.
    """
    if payment.status not in (P.PENDING, P.REQUIRES_ACTION) or not payment.provider_reference:
        return payment
    with span("payment.refresh", payment_id=str(payment.id), provider=payment.provider):
        result = provider_for(payment.provider).fetch_status(
            payment_reference=payment.provider_reference
        )
        outcome = payment_apply_charge_result(payment=payment, result=result)
        set_attribute("payment.status", outcome.payment.status)
    return outcome.payment


def payment_cancel_at_provider(*, payment_id: Any) -> Payment | None:
    """Cancel an abandoned (``cancelled``) payment at its provider; run by a task.

    If the provider says the charge succeeded after all, that success is applied
    (a second success of the order is then refunded automatically). A transient
    provider failure raises ``TransientError`` (the task retries).
    """
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or payment.status != P.CANCELLED or not payment.provider_reference:
        return payment  # never reached the provider: nothing to cancel there
    with span("payment.cancel", payment_id=str(payment.id), provider=payment.provider):
        try:
            result = provider_for(payment.provider).cancel(
                payment_reference=payment.provider_reference
            )
        except ProviderUnavailableError as exc:
            raise TransientError(f"payment {payment.id}: {exc.message}") from exc
        if result.status == ChargeStatus.SUCCEEDED:
            return payment_apply_charge_result(payment=payment, result=result).payment
    # The provider has answered (cancelled, or failed there): the sweep stops re-sending.
    Payment.objects.filter(pk=payment_id, status=P.CANCELLED).update(
        provider_cancelled_at=timezone.now()
    )
    return Payment.objects.filter(pk=payment_id).first()


def payment_sandbox_authenticate(*, charge_id: str, result: str) -> Payment:
    """The sandbox's simulated bank page: settle the charge, then apply it to its payment
    through ``payment_apply_result`` (the webhook's path). 404 for an unknown charge."""
    from apps.payments.providers.sandbox import sandbox_authenticate

    get_provider("sandbox")  # the sandbox disabled (404): its page does not exist either
    payment = Payment.objects.filter(provider="sandbox", provider_reference=charge_id).first()
    if payment is None:
        raise NotFoundError("No sandbox payment waits for this authentication.")
    charge = sandbox_authenticate(charge_id=charge_id, result=result)
    if charge is None:
        raise NotFoundError("No sandbox payment waits for this authentication.")
    return payment_apply_charge_result(payment=payment, result=charge).payment
