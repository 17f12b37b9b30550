"""The sandbox provider: offline, deterministic, Stripe-like test tokens.

Tokens (``payment_method`` / ``token``):

- ``tok_visa``, ``tok_mastercard``: the charge succeeds;
- ``tok_chargeDeclined``: declined, ``card_declined``;
- ``tok_insufficientFunds``: declined, ``insufficient_funds``;
- ``tok_timeout``: the first two requests with an idempotency key fail with
  ``ProviderUnavailableError`` (a timeout), the third succeeds;
- ``tok_requiresAction``: the charge stays ``requires_action`` (3-D Secure) with a
  ``next_action`` of type ``redirect_to_url``: the simulated bank page
  ``GET /api/v1/payments/sandbox/authenticate/{charge id}/?result=succeed|fail``
  settles it (``sandbox_authenticate``), as does a signed ``payment.succeeded`` or
  ``payment.failed`` webhook;
- ``tok_providerDown``: every request fails with ``ProviderUnavailableError``
  (a provider outage that outlasts the retries);
- anything else: declined, ``invalid_token``.

Every charge is a ``SandboxCharge`` row keyed by idempotency key, shared by all
processes: a repeated request with the same key returns the same charge and
never charges twice, and tests count real charges. Webhooks are signed like
Stripe's (``utils.signing``) with ``SANDBOX_WEBHOOK_SECRET`` in
the ``X-Sandbox-Signature`` header; the body is
``{"id": "evt_...", "type": "payment.succeeded" | "payment.failed" |
"refund.succeeded", "data": {"payment_id", "amount": "12.50", "currency": "EUR",
"reason", "refund_id" (optional)}}``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse

from apps.payments.models import SandboxCharge, SandboxRefund
from apps.payments.providers.base import (
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    EventKind,
    PaymentDeclinedError,
    PaymentProvider,
    PaymentProviderError,
    ProviderEvent,
    ProviderUnavailableError,
    RefundRequest,
    RefundResult,
    RefundStatus,
    WebhookPayloadError,
)
from utils import signing
from utils.decimal_utils import MoneyError, parse_money, to_str

SUCCEEDING_TOKENS = frozenset({"tok_visa", "tok_mastercard"})
DECLINING_TOKENS: dict[str, tuple[str, str]] = {
    "tok_chargeDeclined": ("card_declined", "Your card was declined."),
    "tok_insufficientFunds": ("insufficient_funds", "Your card has insufficient funds."),
}
TIMEOUT_TOKEN = "tok_timeout"
DOWN_TOKEN = "tok_providerDown"
TIMEOUT_FAILURES = 2
REQUIRES_ACTION_TOKEN = "tok_requiresAction"

EVENT_KINDS: dict[str, EventKind] = {
    "payment.succeeded": EventKind.PAYMENT_SUCCEEDED,
    "payment.failed": EventKind.PAYMENT_FAILED,
    "refund.succeeded": EventKind.REFUND_SUCCEEDED,
}

_FINAL = {
    SandboxCharge.Status.SUCCEEDED,
    SandboxCharge.Status.DECLINED,
    SandboxCharge.Status.REQUIRES_ACTION,
}


def _outcome(token: str) -> tuple[str, str]:
    """(status, decline code) of a first successful request with ``token``."""
    if token in SUCCEEDING_TOKENS or token == TIMEOUT_TOKEN:
        return SandboxCharge.Status.SUCCEEDED, ""
    if token == REQUIRES_ACTION_TOKEN:
        return SandboxCharge.Status.REQUIRES_ACTION, ""
    code, _ = DECLINING_TOKENS.get(token, ("invalid_token", ""))
    return SandboxCharge.Status.DECLINED, code


def _simulate_latency() -> None:
    """Wait like a slow network answer would (``SANDBOX_LATENCY_SECONDS``, default 0).

    The charge is already recorded when this runs, as with a real provider whose
    answer is lost: a worker killed here must not charge again when redelivered.
    """
    delay = settings.SANDBOX_LATENCY_SECONDS
    if delay > 0:
        time.sleep(delay)


def _decline_message(code: str) -> str:
    for known_code, message in DECLINING_TOKENS.values():
        if known_code == code:
            return message
    if code == "authentication_failed":
        return "The customer did not complete the authentication."
    return "The payment method is not a sandbox test token."


class SandboxProvider(PaymentProvider):
    name = "sandbox"
    signature_header = "X-Sandbox-Signature"

    def charge_request(self, request: ChargeRequest) -> ChargeResult:
        # A short transaction of its own: this stands in for a network call.
        with transaction.atomic():
            row, _ = SandboxCharge.objects.select_for_update().get_or_create(
                idempotency_key=request.idempotency_key,
                defaults={
                    "token": request.token,
                    "amount": request.amount,
                    "currency": request.currency,
                },
            )
            row.calls += 1
            transient = False
            if row.status not in _FINAL:
                if row.token == DOWN_TOKEN or (
                    row.token == TIMEOUT_TOKEN and row.calls <= TIMEOUT_FAILURES
                ):
                    transient = True
                else:
                    row.status, row.decline_code = _outcome(row.token)
            row.save(update_fields=["calls", "status", "decline_code", "updated_at"])
        _simulate_latency()
        if transient:
            raise ProviderUnavailableError(f"Sandbox provider unavailable ({row.token}).")
        return _result(row, return_url=request.return_url)

    def cancel(self, *, payment_reference: str) -> ChargeResult:
        with transaction.atomic():
            row = SandboxCharge.objects.select_for_update().filter(pk=payment_reference).first()
            if row is None:
                raise PaymentProviderError("No such sandbox charge.", reason="charge_not_found")
            if row.status in (
                SandboxCharge.Status.REQUIRES_ACTION,
                SandboxCharge.Status.PROCESSING,
            ):
                row.status = SandboxCharge.Status.CANCELED
                row.save(update_fields=["status", "updated_at"])
        return self.fetch_status(payment_reference=payment_reference)

    def refund_request(self, request: RefundRequest) -> RefundResult:
        with transaction.atomic():
            existing = SandboxRefund.objects.filter(idempotency_key=request.idempotency_key).first()
            if existing is not None:
                return RefundResult(status=RefundStatus.SUCCEEDED, reference=existing.id)
            charge = (
                SandboxCharge.objects.select_for_update()
                .filter(pk=request.payment_reference)
                .exclude(
                    status__in=[SandboxCharge.Status.DECLINED, SandboxCharge.Status.PROCESSING]
                )
                .first()
            )
            if charge is None:
                raise PaymentProviderError("No such sandbox charge.", reason="charge_not_found")
            if request.currency != charge.currency:
                raise PaymentProviderError("Currency differs from the charge.", reason="currency")
            refunded = charge.refunds.aggregate(total=Sum("amount"))["total"] or Decimal("0")
            if refunded + request.amount > charge.amount:
                raise PaymentProviderError(
                    "The refund exceeds what is left on the charge.", reason="amount_too_large"
                )
            refund = SandboxRefund.objects.create(
                idempotency_key=request.idempotency_key,
                charge=charge,
                amount=request.amount,
                currency=request.currency,
            )
        return RefundResult(status=RefundStatus.SUCCEEDED, reference=refund.id)

    def fetch_status(self, *, payment_reference: str) -> ChargeResult:
        row = SandboxCharge.objects.filter(pk=payment_reference).first()
        if row is None:
            raise PaymentProviderError("No such sandbox charge.", reason="charge_not_found")
        if row.status == SandboxCharge.Status.CANCELED:
            return ChargeResult(status=ChargeStatus.CANCELED, reference=row.id)
        try:
            return _result(row)
        except PaymentDeclinedError as exc:
            return ChargeResult(
                status=ChargeStatus.FAILED,
                reference=row.id,
                failure_code=exc.decline_code,
                failure_message=exc.message,
            )

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        signing.signature_verify(
            body=body,
            header=headers.get(self.signature_header),
            secret=settings.SANDBOX_WEBHOOK_SECRET,
        )
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise WebhookPayloadError(details={"reason": "not_json"}) from exc
        if not isinstance(payload, dict):
            raise WebhookPayloadError(details={"reason": "not_an_object"})
        return payload

    def parse_event(self, payload: Mapping[str, Any]) -> ProviderEvent:
        event_id, event_type, data = payload.get("id"), payload.get("type"), payload.get("data")
        if not (isinstance(event_id, str) and event_id and len(event_id) <= 255):
            raise WebhookPayloadError(details={"id": ["A non-empty string is required."]})
        if not isinstance(event_type, str) or not isinstance(data, dict):
            raise WebhookPayloadError(details={"type": ["type and data are required."]})
        kind = EVENT_KINDS.get(event_type, EventKind.UNHANDLED)
        if kind == EventKind.UNHANDLED:
            return ProviderEvent(
                event_id=event_id, type=event_type, kind=kind, payload=dict(payload)
            )
        payment_id = data.get("payment_id")
        currency = data.get("currency")
        if not isinstance(payment_id, str) or not payment_id:
            raise WebhookPayloadError(details={"data.payment_id": ["Required."]})
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
            raise WebhookPayloadError(details={"data.currency": ["An ISO 4217 code."]})
        try:
            amount = parse_money(data.get("amount"), allow_zero=False)
        except MoneyError as exc:
            raise WebhookPayloadError(details={"data.amount": [str(exc)]}) from exc
        reason = data.get("reason")
        reason_text = str(reason)[:500] if reason is not None else ""
        refund_id = data.get("refund_id")
        return ProviderEvent(
            event_id=event_id,
            type=event_type,
            kind=kind,
            payload=dict(payload),
            payment_id=payment_id,
            amount=amount,
            currency=currency.upper(),
            failure_code=(reason_text[:64] or "payment_failed")
            if kind == EventKind.PAYMENT_FAILED
            else "",
            refund_id=str(refund_id) if refund_id else "",
        )


def _result(row: SandboxCharge, *, return_url: str = "") -> ChargeResult:
    if row.status == SandboxCharge.Status.DECLINED:
        raise PaymentDeclinedError(row.decline_code, _decline_message(row.decline_code))
    if row.status == SandboxCharge.Status.REQUIRES_ACTION:
        return ChargeResult(
            status=ChargeStatus.REQUIRES_ACTION,
            reference=row.id,
            next_action=sandbox_next_action(charge_id=row.id, return_url=return_url),
        )
    return ChargeResult(status=ChargeStatus.SUCCEEDED, reference=row.id)


def sandbox_next_action(*, charge_id: str, return_url: str = "") -> dict[str, Any]:
    """Stripe's ``redirect_to_url`` shape; the URL is a path of this API (made absolute
    by the payment serializer for the request's host)."""
    url = reverse("payment-sandbox-authenticate", kwargs={"charge_id": charge_id})
    return {
        "type": "redirect_to_url",
        "redirect_to_url": {"url": url, "return_url": return_url or None},
    }


AUTHENTICATION_RESULTS = ("succeed", "fail")
AUTHENTICATION_DECLINE_CODE = "authentication_failed"


def sandbox_authenticate(*, charge_id: str, result: str) -> ChargeResult | None:
    """The simulated bank page: settle a ``requires_action`` charge (None: no such charge).

    A charge that is no longer waiting keeps its state (the page was followed twice,
    or the charge was cancelled): the answer says what it is.
    """
    with transaction.atomic():
        row = SandboxCharge.objects.select_for_update().filter(pk=charge_id).first()
        if row is None:
            return None
        if row.status == SandboxCharge.Status.REQUIRES_ACTION:
            if result == "succeed":
                row.status = SandboxCharge.Status.SUCCEEDED
            else:
                row.status = SandboxCharge.Status.DECLINED
                row.decline_code = AUTHENTICATION_DECLINE_CODE
            row.save(update_fields=["status", "decline_code", "updated_at"])
    return SandboxProvider().fetch_status(payment_reference=charge_id)


# --- Helpers for storefront developers and tests -----------------------------------------


def sandbox_event_body(
    *,
    event_type: str,
    payment_id: str,
    amount: Decimal | str,
    currency: str,
    reason: str | None = None,
    refund_id: str | None = None,
    event_id: str | None = None,
) -> bytes:
    """A sandbox webhook body, exactly as the sandbox would send it."""
    data: dict[str, Any] = {
        "payment_id": payment_id,
        "amount": to_str(Decimal(amount)),
        "currency": currency,
        "reason": reason,
    }
    if refund_id:
        data["refund_id"] = refund_id
    event = {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": event_type, "data": data}
    return json.dumps(event, separators=(",", ":")).encode("utf-8")


def sandbox_sign(
    body: bytes, *, secret: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """Headers that make ``body`` a valid sandbox webhook (``X-Sandbox-Signature``)."""
    value = signing.signature_header(
        body=body,
        secret=settings.SANDBOX_WEBHOOK_SECRET if secret is None else secret,
        timestamp=timestamp,
    )
    return {SandboxProvider.signature_header: value}
