"""Provider webhooks: verify and store once (fast, in the request), apply later (in a task).

``webhook_receive`` checks the signature on the raw body before anything is
parsed or stored, then stores the event once per (provider, event id): a
duplicate delivery is a no-op. ``webhook_event_process`` applies it through the
same functions the capture and refund tasks use, so whichever comes first wins.

Outcomes recorded on the ``WebhookEvent``: ``processed`` (applied, or agreed with
the current state), ``ignored`` (stale, e.g. failed after captured, or a type we
do not handle; ``last_error`` says why), ``failed`` (cannot be applied: unknown
payment or refund, amount or currency mismatch; ``last_error`` says what).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ParseError

from apps.orders.models import OrderEvent
from apps.payments.models import Payment, Refund, WebhookEvent
from apps.payments.providers import get_provider
from apps.payments.providers.base import EventKind, ProviderEvent, WebhookPayloadError
from apps.payments.services.apply import payment_apply_charge_result
from apps.payments.services.refunds import refund_apply_result, refund_external_record
from apps.payments.services.results import Applied
from utils.decimal_utils import minor_units, same_amount
from utils.errors import NotFoundError
from utils.parsers import check_json_structure
from utils.telemetry import span
from workers.enqueue import enqueue_on_commit

W = WebhookEvent.Status
_STATUS_FOR: dict[Applied, str] = {
    Applied.APPLIED: W.PROCESSED,
    Applied.UNCHANGED: W.PROCESSED,
    Applied.STALE: W.IGNORED,
    Applied.ERROR: W.FAILED,
}


def webhook_receive(
    *, provider: str, body: bytes, headers: Mapping[str, str]
) -> tuple[WebhookEvent, bool]:
    """Verify, then store the event once; return it and whether it is new.

    404 for an unknown provider, 400 ``invalid_signature`` (nothing stored) for a
    bad signature, 400 ``parse_error`` for a signed body that is not an event.
    """
    event = get_provider(provider).verify_and_parse_webhook(body=body, headers=headers)
    try:
        # What the database can store: no U+0000 (jsonb refuses it), bounded nesting.
        check_json_structure(event.payload)
    except ParseError as exc:
        raise WebhookPayloadError(details={"reason": str(exc.detail)}) from exc
    unhandled = event.kind == EventKind.UNHANDLED
    with transaction.atomic():
        row, created = WebhookEvent.objects.get_or_create(
            provider=provider,
            event_id=event.event_id,
            defaults={
                "type": event.type[:100],
                "payload": event.payload,
                "status": W.IGNORED if unhandled else W.RECEIVED,
                "last_error": "unhandled event type" if unhandled else "",
                "processed_at": timezone.now() if unhandled else None,
            },
        )
        if created and not unhandled:
            from apps.payments.tasks import webhook_event_process_task  # tasks import services

            enqueue_on_commit(webhook_event_process_task, row.pk)
    return row, created


def webhook_event_process(*, event_pk: int) -> WebhookEvent | None:
    """Apply a stored event once; a processed, ignored or failed event is left alone."""
    with transaction.atomic():
        row = WebhookEvent.objects.select_for_update().filter(pk=event_pk).first()
        if row is None or row.status != W.RECEIVED:
            return row
        status: str
        with span("payment.webhook", provider=row.provider, event_type=row.type):
            try:
                event = get_provider(row.provider).parse_event(row.payload)
            except (WebhookPayloadError, NotFoundError) as exc:
                status, note = W.FAILED, f"{exc.code}: {exc.message} {exc.details}"
            else:
                status, note = _apply(row.provider, event)
        row.attempts += 1
        row.status = status
        row.last_error = note[:500]
        row.processed_at = timezone.now()
        row.save(update_fields=["attempts", "status", "last_error", "processed_at"])
    return row


def _apply(provider: str, event: ProviderEvent) -> tuple[str, str]:
    if event.kind == EventKind.UNHANDLED:
        return W.IGNORED, "unhandled event type"
    payment = _payment_for(provider, event)
    if payment is None:
        reference = event.payment_id or event.payment_reference or "-"
        return W.FAILED, f"no {provider} payment matches {reference}"
    if event.currency != payment.currency:
        return W.FAILED, f"currency mismatch: event {event.currency}, payment {payment.currency}"
    if event.kind == EventKind.REFUND_SUCCEEDED:
        return _apply_refund(payment, event)
    if event.kind in (EventKind.REFUND_FAILED, EventKind.REFUND_PENDING):
        return _apply_refund_update(payment, event)
    if event.amount is not None and not same_amount(event.amount, payment.amount, payment.currency):
        return W.FAILED, f"amount mismatch: event {event.amount}, payment {payment.amount}"
    outcome = payment_apply_charge_result(payment=payment, result=event.charge_result())
    return _settled(outcome.result, outcome.note)


def _apply_refund_update(payment: Payment, event: ProviderEvent) -> tuple[str, str]:
    """A refund the provider has not settled (pending) or could not pay (failed)."""
    refund = _refund_for(payment, event, match_amount=False)
    if event.kind == EventKind.REFUND_PENDING:
        return W.IGNORED, "refund pending at the provider: a later event settles it"
    if refund is None:
        return W.IGNORED, f"refund {event.refund_reference} failed at the provider: not ours"
    outcome = refund_apply_result(
        refund_id=refund.pk,
        succeeded=False,
        error=f"{event.failure_code or 'refund_failed'}: reported by {payment.provider}",
        actor_kind=OrderEvent.ActorKind.PROVIDER,
    )
    return _settled(outcome.result, outcome.note)


def _settled(result: Applied, note: str) -> tuple[str, str]:
    """The event's status; ``last_error`` only says why one was ignored or failed."""
    status = _STATUS_FOR[result]
    return status, "" if status == W.PROCESSED else note


def _apply_refund(payment: Payment, event: ProviderEvent) -> tuple[str, str]:
    refund = _refund_for(payment, event)
    if refund is None:
        return _apply_external_refund(payment, event)
    if event.amount is not None and not same_amount(event.amount, refund.amount, refund.currency):
        return W.FAILED, f"amount mismatch: event {event.amount}, refund {refund.amount}"
    outcome = refund_apply_result(
        refund_id=refund.pk,
        succeeded=True,
        provider_reference=event.refund_reference,
        actor_kind=OrderEvent.ActorKind.PROVIDER,
    )
    return _settled(outcome.result, outcome.note)


def _apply_external_refund(payment: Payment, event: ProviderEvent) -> tuple[str, str]:
    """No refund of ours matches: one made at the provider (e.g. the Stripe dashboard).

    Its amount is the refund's own when the event names it, else what the charge's
    cumulative refunded total adds to ours (compared in minor units).
    """
    amount = event.amount
    if event.refunded_total is not None:
        if minor_units(payment.refunded_amount, payment.currency) >= minor_units(
            event.refunded_total, payment.currency
        ):
            return W.PROCESSED, ""  # already reflected in the payment's refunded amount
        if amount is None:
            amount = event.refunded_total - payment.refunded_amount
    if amount is None:
        return W.FAILED, f"refund event for payment {payment.pk} without an amount"
    outcome = refund_external_record(
        payment_id=payment.pk,
        amount=amount,
        reference=event.refund_reference,
        actor_kind=OrderEvent.ActorKind.PROVIDER,
    )
    return _settled(outcome.result, outcome.note)


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (TypeError, ValueError):
        return None


def _payment_for(provider: str, event: ProviderEvent) -> Payment | None:
    payments = Payment.objects.filter(provider=provider)
    payment_uuid = _as_uuid(event.payment_id)
    if payment_uuid is not None:
        found = payments.filter(pk=payment_uuid).first()
        if found is not None:
            return found
    if event.payment_reference:
        return payments.filter(provider_reference=event.payment_reference).first()
    return None


def _refund_for(
    payment: Payment, event: ProviderEvent, *, match_amount: bool = True
) -> Refund | None:
    refunds = Refund.objects.filter(payment=payment)
    refund_uuid = _as_uuid(event.refund_id)
    if refund_uuid is not None:
        found = refunds.filter(pk=refund_uuid).first()
        if found is not None:
            return found
    if event.refund_reference:
        found = refunds.filter(provider_reference=event.refund_reference).first()
        if found is not None:
            return found
    if not match_amount:
        return None
    # A refund of ours the provider settled before it told us its reference.
    pending = refunds.filter(status=Refund.Status.PENDING, provider_reference="").order_by(
        "created_at"
    )
    amount: Any = event.amount
    if amount is None and event.refunded_total is not None:
        amount = event.refunded_total - payment.refunded_amount
    return pending.filter(amount=amount).first() if amount is not None else None
