"""The Stripe provider: the official SDK, PaymentIntents, refunds, verified webhooks.

- ``charge``: one PaymentIntent created and confirmed in a single call
  (``confirm=true``, card only, automatic capture) with the payment's
  idempotency key, so a retried capture never charges twice. The token is a
  PaymentMethod id as Stripe.js produces it (test values: ``pm_card_visa``,
  ``pm_card_chargeDeclined``, ``pm_card_chargeDeclinedInsufficientFunds``).
  ``requires_action`` and ``processing`` intents wait for a webhook; a
  ``requires_action`` intent's ``client_secret`` and ``next_action`` go to the
  client (Stripe.js ``handleNextAction``), and ``return_url`` is passed when the
  storefront gave one (Stripe then answers with ``redirect_to_url``).
- ``cancel``: cancel an abandoned PaymentIntent; one that already succeeded is
  reported as succeeded (the shop then refunds the duplicate).
- ``refund``: a Refund on the PaymentIntent, with our refund id in its metadata.
- webhooks: ``Stripe-Signature`` checked with ``STRIPE_WEBHOOK_SECRET`` (an empty
  secret is refused here, never handed to the SDK): first by our own reading of
  the same scheme (``signing.signature_verify``: stable refusal reasons, 300 s
  tolerance both ways), then by the SDK's ``Webhook.construct_event``.
  ``payment_intent.succeeded``, ``.payment_failed``, ``.requires_action`` and
  ``.canceled``, ``charge.refunded``, ``refund.created`` and ``refund.updated`` are
  applied; any other correctly signed type, Stripe's "thin" v2 events included, is
  stored and ignored (answered 200, so Stripe stops retrying).

Network retries are left to Celery (``max_network_retries=0``): a transient
failure raises ``ProviderUnavailableError`` and the task retries with backoff.
Tests pass their own ``stripe.HTTPClient`` (``http_client``): no network.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, cast

import stripe
from django.conf import settings

from apps.payments.providers.base import (
    ChargeRequest,
    ChargeResult,
    ChargeStatus,
    EventKind,
    InvalidSignatureError,
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
    "canceled": ChargeStatus.CANCELED,
}

_INTENT_EVENTS: dict[str, EventKind] = {
    "payment_intent.succeeded": EventKind.PAYMENT_SUCCEEDED,
    "payment_intent.payment_failed": EventKind.PAYMENT_FAILED,
    "payment_intent.requires_action": EventKind.PAYMENT_REQUIRES_ACTION,
    "payment_intent.canceled": EventKind.PAYMENT_CANCELED,
}
_REFUND_EVENTS = frozenset({"refund.created", "refund.updated"})
_REFUND_STATUS_KIND: dict[str, EventKind] = {
    "succeeded": EventKind.REFUND_SUCCEEDED,
    "failed": EventKind.REFUND_FAILED,
    "canceled": EventKind.REFUND_FAILED,
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

    def charge_request(self, request: ChargeRequest) -> ChargeResult:
        params: dict[str, Any] = {
            "amount": to_minor_units(request.amount, request.currency),
            "currency": request.currency.lower(),
            "payment_method": request.token,
            "payment_method_types": ["card"],
            "confirm": True,
            "metadata": dict(request.metadata),
        }
        if request.return_url:
            params["return_url"] = request.return_url
        with _translated_errors():
            intent = self._client().v1.payment_intents.create(
                params=cast(Any, params), options={"idempotency_key": request.idempotency_key}
            )
        status = _INTENT_STATUS.get(intent.status, ChargeStatus.REQUIRES_ACTION)
        if status in (ChargeStatus.FAILED, ChargeStatus.CANCELED):
            error = _get(intent, "last_payment_error")
            raise PaymentDeclinedError(
                _failure_code(error), _failure_message(error) or "The payment was declined."
            )
        return _charge_result(intent, status)

    def cancel(self, *, payment_reference: str) -> ChargeResult:
        try:
            with _translated_errors():
                intent = self._client().v1.payment_intents.cancel(
                    payment_reference,
                    params={"cancellation_reason": "abandoned"},
                    options={"idempotency_key": f"cancel-{payment_reference}"},
                )
        except PaymentDeclinedError:
            # payment_intent_unexpected_state: it succeeded (or was cancelled) meanwhile.
            return self.fetch_status(payment_reference=payment_reference)
        status = _INTENT_STATUS.get(intent.status, ChargeStatus.REQUIRES_ACTION)
        return _charge_result(intent, status)

    def refund_request(self, request: RefundRequest) -> RefundResult:
        params: dict[str, Any] = {
            "payment_intent": request.payment_reference,
            "amount": to_minor_units(request.amount, request.currency),
            "metadata": dict(request.metadata),
        }
        with _translated_errors():
            refund = self._client().v1.refunds.create(
                params=cast(Any, params), options={"idempotency_key": request.idempotency_key}
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
        return _charge_result(intent, status)

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        header = headers.get(self.signature_header)
        # Our own check first: an empty secret, a missing or malformed header, a wrong
        # signature and a timestamp outside 300 s (either way) get their stable reason.
        signing.signature_verify(body=body, header=header, secret=self.webhook_secret)
        assert header is not None  # signature_verify refused a missing header
        try:
            text = body.decode("utf-8")
            payload = json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            raise WebhookPayloadError(details={"reason": "not_json"}) from exc
        if not isinstance(payload, dict):
            raise WebhookPayloadError(details={"reason": "not_an_object"})
        try:
            if payload.get("object") == "v2.core.event":
                # A thin event: verified as such by the SDK, then stored and ignored.
                stripe.WebhookSignature.verify_header(
                    text, header, self.webhook_secret, tolerance=TOLERANCE_SECONDS
                )
            else:
                stripe.Webhook.construct_event(
                    text, header, self.webhook_secret, tolerance=TOLERANCE_SECONDS
                )
        except stripe.SignatureVerificationError as exc:
            raise InvalidSignatureError(reason="signature_mismatch") from exc
        except ValueError as exc:  # signed, but not an event the SDK can read
            raise WebhookPayloadError(details={"reason": "not_an_event"}) from exc
        return payload

    def parse_event(self, payload: Mapping[str, Any]) -> ProviderEvent:
        event_id, event_type = payload.get("id"), payload.get("type")
        if not (isinstance(event_id, str) and event_id and len(event_id) <= 255):
            raise WebhookPayloadError(details={"id": ["A non-empty string is required."]})
        if not isinstance(event_type, str) or not event_type:
            raise WebhookPayloadError(details={"type": ["A non-empty string is required."]})
        base: dict[str, Any] = {"event_id": event_id, "type": event_type, "payload": dict(payload)}
        handled = event_type in _INTENT_EVENTS or event_type in _REFUND_EVENTS
        if payload.get("object") == "v2.core.event" or not (
            handled or event_type == "charge.refunded"
        ):
            return ProviderEvent(kind=EventKind.UNHANDLED, **base)
        data = payload.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict):
            raise WebhookPayloadError(details={"data.object": ["Required."]})
        try:
            if event_type in _INTENT_EVENTS:
                return _intent_event(obj, base)
            if event_type in _REFUND_EVENTS:
                return _refund_object_event(obj, base)
            return _refund_event(obj, base)
        except (KeyError, TypeError, AttributeError) as exc:
            raise WebhookPayloadError(details={"data.object": [str(exc)]}) from exc


def _charge_result(intent: Any, status: ChargeStatus) -> ChargeResult:
    """A PaymentIntent as a ``ChargeResult``; client data only while it waits for action."""
    error = _get(intent, "last_payment_error")
    waiting = status == ChargeStatus.REQUIRES_ACTION
    next_action = _get(intent, "next_action") if waiting else None
    return ChargeResult(
        status=status,
        reference=str(intent.id),
        failure_code=_failure_code(error) if status == ChargeStatus.FAILED else "",
        failure_message=_failure_message(error) if status == ChargeStatus.FAILED else "",
        client_secret=str(_get(intent, "client_secret") or "") if waiting else "",
        next_action=_plain(next_action) if next_action else None,
    )


def _plain(value: Any) -> dict[str, Any]:
    """A ``StripeObject`` (or a dict from a webhook) as plain JSON-able dicts."""
    to_dict = getattr(value, "to_dict", None)
    result = to_dict() if callable(to_dict) else value
    return json.loads(json.dumps(result, default=str)) if isinstance(result, dict) else {}


def _intent_event(obj: dict[str, Any], base: dict[str, Any]) -> ProviderEvent:
    currency = str(obj["currency"]).upper()
    metadata = obj.get("metadata") or {}
    kind = _INTENT_EVENTS[base["type"]]
    if kind in (EventKind.PAYMENT_REQUIRES_ACTION, EventKind.PAYMENT_CANCELED):
        waiting = kind == EventKind.PAYMENT_REQUIRES_ACTION
        next_action = obj.get("next_action") if waiting else None
        return ProviderEvent(
            kind=kind,
            payment_id=str(metadata.get("payment_id") or ""),
            payment_reference=str(obj["id"]),
            amount=from_minor_units(obj["amount"], currency),
            currency=currency,
            client_secret=str(obj.get("client_secret") or "") if waiting else "",
            next_action=_plain(next_action) if isinstance(next_action, dict) else None,
            **base,
        )
    if kind == EventKind.PAYMENT_SUCCEEDED:
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


def _refund_object_event(obj: dict[str, Any], base: dict[str, Any]) -> ProviderEvent:
    """``refund.created`` / ``refund.updated``: one Refund object, settled or not."""
    currency = str(obj["currency"]).upper()
    kind = _REFUND_STATUS_KIND.get(str(obj.get("status") or ""), EventKind.REFUND_PENDING)
    metadata = obj.get("metadata") or {}
    return ProviderEvent(
        kind=kind,
        payment_id=str(metadata.get("payment_id") or ""),
        payment_reference=str(obj.get("payment_intent") or ""),
        amount=from_minor_units(obj["amount"], currency),
        currency=currency,
        refund_id=str(metadata.get("refund_id") or ""),
        refund_reference=str(obj["id"]),
        failure_code=str(obj.get("failure_reason") or "")[:64],
        **base,
    )


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
