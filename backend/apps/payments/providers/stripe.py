"""The Stripe provider: the official SDK, PaymentIntents, refunds, verified webhooks.

- ``charge``: one PaymentIntent created and confirmed in a single call
  (``confirm=true``, card only, automatic capture) with the payment's
  idempotency key, so a retried capture never charges twice. The token is a
  PaymentMethod id as Stripe.js produces it (test values: ``pm_card_visa``,
  ``pm_card_chargeDeclined``, ``pm_card_chargeDeclinedInsufficientFunds``).
  ``requires_action`` and ``processing`` intents wait for a webhook.
- ``refund``: a Refund on the PaymentIntent, with our refund id in its metadata.
- webhooks: ``Stripe-Signature`` checked by the SDK's ``Webhook.construct_event``
  with ``STRIPE_WEBHOOK_SECRET`` (300 s tolerance); the SDK only refuses old
  timestamps, so timestamps more than 300 s in the future are refused here.
  ``payment_intent.succeeded``, ``payment_intent.payment_failed`` and
  ``charge.refunded`` are applied; other types are stored and ignored.

Network retries are left to Celery (``max_network_retries=0``): a transient
failure raises ``ProviderUnavailableError`` and the task retries with backoff.
Tests pass their own ``stripe.HTTPClient`` (``http_client``): no network.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, cast

import stripe
from django.conf import settings

from apps.payments.providers.base import (
    ChargeResult,
    ChargeStatus,
    EventKind,
    InvalidSignatureError,
    PaymentDeclinedError,
    PaymentProvider,
    PaymentProviderError,
    ProviderEvent,
    ProviderUnavailableError,
    RefundResult,
    RefundStatus,
    WebhookPayloadError,
)
from utils.decimal_utils import CENT, quantize
from utils.signing import TOLERANCE_SECONDS

logger = logging.getLogger(__name__)

# Currencies Stripe counts in whole units (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)

_INTENT_STATUS: dict[str, ChargeStatus] = {
    "succeeded": ChargeStatus.SUCCEEDED,
    "requires_action": ChargeStatus.REQUIRES_ACTION,
    "processing": ChargeStatus.REQUIRES_ACTION,
    "requires_confirmation": ChargeStatus.REQUIRES_ACTION,
    "requires_payment_method": ChargeStatus.FAILED,
    "canceled": ChargeStatus.FAILED,
}


# A bad payment method is the customer's problem (a decline), not a provider error.
_DECLINING_REQUEST_ERRORS = frozenset(
    {"resource_missing", "payment_method_unexpected_state", "payment_intent_unexpected_state"}
)


def to_minor_units(amount: Decimal, currency: str) -> int:
    if currency.upper() in ZERO_DECIMAL_CURRENCIES:
        return int(amount.to_integral_value())
    return int((amount / CENT).to_integral_value())


def from_minor_units(value: Any, currency: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WebhookPayloadError(details={"amount": ["An integer amount is required."]})
    if currency.upper() in ZERO_DECIMAL_CURRENCIES:
        return quantize(Decimal(value))
    return quantize(Decimal(value) * CENT)


def _get(obj: Any, key: str) -> Any:
    """A field of a JSON dict or a ``StripeObject`` (which has no ``.get``), or None."""
    if obj is None:
        return None
    try:
        return obj[key]
    except (KeyError, TypeError):
        return None


def _failure_code(error: Any) -> str:
    """Stripe's most specific reason: decline_code ("insufficient_funds") over code."""
    return str(_get(error, "decline_code") or _get(error, "code") or "payment_failed")[:64]


def _failure_message(error: Any) -> str:
    return str(_get(error, "message") or "")[:500]


class StripeProvider(PaymentProvider):
    name = "stripe"
    signature_header = "Stripe-Signature"
    # Tests set this to a stub HTTP client; None means the SDK's default (real network).
    default_http_client: stripe.HTTPClient | None = None

    def __init__(
        self,
        *,
        api_key: str | None = None,
        webhook_secret: str | None = None,
        http_client: stripe.HTTPClient | None = None,
    ) -> None:
        self.api_key = settings.STRIPE_API_KEY if api_key is None else api_key
        self.webhook_secret = (
            settings.STRIPE_WEBHOOK_SECRET if webhook_secret is None else webhook_secret
        )
        self.http_client = http_client or self.default_http_client

    def _client(self) -> stripe.StripeClient:
        if not self.api_key:
            raise PaymentProviderError("STRIPE_API_KEY is not configured.", reason="not_configured")
        return stripe.StripeClient(
            self.api_key, http_client=self.http_client, max_network_retries=0
        )

    def charge(
        self,
        *,
        amount: Decimal,
        currency: str,
        token: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> ChargeResult:
        params: dict[str, Any] = {
            "amount": to_minor_units(amount, currency),
            "currency": currency.lower(),
            "payment_method": token,
            "payment_method_types": ["card"],
            "confirm": True,
            "metadata": dict(metadata),
        }
        with _translated_errors():
            intent = self._client().v1.payment_intents.create(
                params=cast(Any, params), options={"idempotency_key": idempotency_key}
            )
        status = _INTENT_STATUS.get(intent.status, ChargeStatus.REQUIRES_ACTION)
        if status == ChargeStatus.FAILED:
            error = _get(intent, "last_payment_error")
            raise PaymentDeclinedError(
                _failure_code(error), _failure_message(error) or "The payment was declined."
            )
        return ChargeResult(status=status, reference=intent.id)

    def refund(
        self,
        *,
        payment_reference: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> RefundResult:
        params: dict[str, Any] = {
            "payment_intent": payment_reference,
            "amount": to_minor_units(amount, currency),
            "metadata": dict(metadata),
        }
        with _translated_errors():
            refund = self._client().v1.refunds.create(
                params=cast(Any, params), options={"idempotency_key": idempotency_key}
            )
        if refund.status in ("failed", "canceled"):
            raise PaymentProviderError(
                "Stripe did not refund.",
                reason=str(_get(refund, "failure_reason") or refund.status),
            )
        status = RefundStatus.SUCCEEDED if refund.status == "succeeded" else RefundStatus.PENDING
        return RefundResult(status=status, reference=refund.id)

    def fetch_status(self, *, payment_reference: str) -> ChargeResult:
        with _translated_errors():
            intent = self._client().v1.payment_intents.retrieve(payment_reference)
        status = _INTENT_STATUS.get(intent.status, ChargeStatus.REQUIRES_ACTION)
        error = _get(intent, "last_payment_error")
        return ChargeResult(
            status=status,
            reference=intent.id,
            failure_code=_failure_code(error) if status == ChargeStatus.FAILED else "",
            failure_message=_failure_message(error),
        )

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        header = headers.get(self.signature_header)
        try:
            text = body.decode("utf-8")
            stripe.Webhook.construct_event(
                text, header, self.webhook_secret, tolerance=TOLERANCE_SECONDS
            )
        except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
            raise InvalidSignatureError(details={"reason": str(exc)[:200]}) from exc
        except ValueError as exc:  # signed, but not a v1 JSON event
            raise WebhookPayloadError(details={"reason": "not_an_event"}) from exc
        assert header is not None  # construct_event refused a missing header
        if _signed_at(header) > time.time() + TOLERANCE_SECONDS:
            raise InvalidSignatureError(details={"reason": "timestamp_out_of_tolerance"})
        payload = json.loads(text)
        if not isinstance(payload, dict):
            raise WebhookPayloadError(details={"reason": "not_an_object"})
        return payload

    def parse_event(self, payload: Mapping[str, Any]) -> ProviderEvent:
        event_id, event_type = payload.get("id"), payload.get("type")
        data = payload.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not (isinstance(event_id, str) and event_id and isinstance(event_type, str)):
            raise WebhookPayloadError(details={"id": ["id and type are required."]})
        if not isinstance(obj, dict):
            raise WebhookPayloadError(details={"data.object": ["Required."]})
        base: dict[str, Any] = {"event_id": event_id, "type": event_type, "payload": dict(payload)}
        try:
            if event_type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
                return _intent_event(obj, base)
            if event_type == "charge.refunded":
                return _refund_event(obj, base)
        except (KeyError, TypeError, AttributeError) as exc:
            raise WebhookPayloadError(details={"data.object": [str(exc)]}) from exc
        return ProviderEvent(kind=EventKind.UNHANDLED, **base)


def _intent_event(obj: dict[str, Any], base: dict[str, Any]) -> ProviderEvent:
    currency = str(obj["currency"]).upper()
    metadata = obj.get("metadata") or {}
    if base["type"] == "payment_intent.succeeded":
        received = obj.get("amount_received") or obj["amount"]
        return ProviderEvent(
            kind=EventKind.PAYMENT_SUCCEEDED,
            payment_id=str(metadata.get("payment_id") or ""),
            payment_reference=str(obj["id"]),
            amount=from_minor_units(received, currency),
            currency=currency,
            **base,
        )
    error = obj.get("last_payment_error")
    return ProviderEvent(
        kind=EventKind.PAYMENT_FAILED,
        payment_id=str(metadata.get("payment_id") or ""),
        payment_reference=str(obj["id"]),
        amount=from_minor_units(obj["amount"], currency),
        currency=currency,
        failure_code=_failure_code(error),
        failure_message=_failure_message(error),
        **base,
    )


def _refund_event(obj: dict[str, Any], base: dict[str, Any]) -> ProviderEvent:
    """A charge's refunds: the newest one when the event lists them, else only the total."""
    currency = str(obj["currency"]).upper()
    metadata = obj.get("metadata") or {}
    refunds = [r for r in ((obj.get("refunds") or {}).get("data") or []) if isinstance(r, dict)]
    latest = max(refunds, key=lambda r: r.get("created") or 0) if refunds else None
    return ProviderEvent(
        kind=EventKind.REFUND_SUCCEEDED,
        payment_id=str(metadata.get("payment_id") or ""),
        payment_reference=str(obj.get("payment_intent") or ""),
        amount=from_minor_units(latest["amount"], currency) if latest else None,
        currency=currency,
        refund_id=str(((latest or {}).get("metadata") or {}).get("refund_id") or ""),
        refund_reference=str((latest or {}).get("id") or ""),
        refunded_total=from_minor_units(obj["amount_refunded"], currency),
        **base,
    )


def _signed_at(header: str) -> int:
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    raise InvalidSignatureError(details={"reason": "malformed_header"})


@contextlib.contextmanager
def _translated_errors() -> Iterator[None]:
    """Map the SDK's exceptions onto ours: transient, declined, or refused."""
    try:
        yield
    except stripe.CardError as exc:
        code = _get(exc.error, "decline_code") or exc.code or "card_declined"
        raise PaymentDeclinedError(str(code)[:64], exc.user_message) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        raise ProviderUnavailableError(f"Stripe: {exc.user_message}") from exc
    except stripe.InvalidRequestError as exc:
        if exc.code in _DECLINING_REQUEST_ERRORS:
            raise PaymentDeclinedError(str(exc.code), exc.user_message) from exc
        logger.error("Stripe refused a request: %r", exc)
        raise PaymentProviderError(
            "Stripe refused the request.", reason=str(exc.code)[:64]
        ) from exc
    except stripe.StripeError as exc:  # authentication, permission, idempotency misuse
        logger.error("Stripe refused a request: %r", exc)
        raise PaymentProviderError(
            "Stripe refused the request.", reason=str(exc.code or type(exc).__name__)[:64]
        ) from exc
