"""The Stripe provider, offline: the SDK talks to a stub HTTP client with canned responses.

Payload shapes follow Stripe's API reference (PaymentIntent, Refund, card_error,
Event); webhooks are signed with the SDK's own ``WebhookSignature`` helper.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest
import stripe
from rest_framework.test import APIClient

from apps.orders.factories import order_create
from apps.orders.models import Order
from apps.payments.conftest import emails, post_webhook
from apps.payments.factories import latest_payment
from apps.payments.models import Payment, Refund, WebhookEvent
from apps.payments.providers.base import (
    ChargeResult,
    ChargeStatus,
    InvalidSignatureError,
    PaymentDeclinedError,
    PaymentProviderError,
    ProviderUnavailableError,
    RefundStatus,
)
from apps.payments.providers.stripe import StripeProvider, from_minor_units, to_minor_units
from apps.payments.services import payment_capture, refund_create

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec_test_stripe_0123456789"
PI_ID = "pi_3MtwBwLkdIwHu7ix28a3tqPa"
CHARGE_ID = "ch_3MtwBwLkdIwHu7ix2KZ5Lvo1"


def _charge(amount: str, token: str) -> ChargeResult:
    """A Stripe charge of ``amount`` EUR with ``token`` under the idempotency key "k"."""
    return StripeProvider().charge(
        amount=Decimal(amount), currency="EUR", token=token, idempotency_key="k", metadata={}
    )


class FakeStripeHTTP(stripe.HTTPClient):
    """Answers from a queue of (status, JSON body) or exceptions; records every request."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.responses: list[tuple[int, dict[str, Any]] | Exception] = []
        self.requests: list[dict[str, Any]] = []

    def request(
        self, method: str, url: str, headers: Any, post_data: Any = None, *, _usage: Any = None
    ) -> tuple[str, int, dict[str, str]]:
        self.requests.append(
            {
                "method": method,
                "url": url,
                "headers": dict(headers or {}),
                "params": parse_qs(post_data or ""),
            }
        )
        answer = self.responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return json.dumps(body), status, {"request-id": "req_test123"}

    def close(self) -> None:
        return None


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch, settings: Any) -> FakeStripeHTTP:
    settings.STRIPE_API_KEY = "sk_test_offline"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    fake = FakeStripeHTTP()
    monkeypatch.setattr(StripeProvider, "default_http_client", fake)

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a test tried to use the real Stripe HTTP client")

    monkeypatch.setattr("stripe._stripe_client.new_default_http_client", no_network)
    return fake


def payment_intent(
    status: str = "succeeded", *, amount: int = 1250, metadata: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "id": PI_ID,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount if status == "succeeded" else 0,
        "capture_method": "automatic",
        "client_secret": f"{PI_ID}_secret_YrKJUKribcBjcG8HVhfZluoGH",
        "confirmation_method": "automatic",
        "created": 1680800504,
        "currency": "eur",
        "last_payment_error": None,
        "latest_charge": CHARGE_ID if status == "succeeded" else None,
        "livemode": False,
        "metadata": metadata or {},
        "next_action": {"type": "use_stripe_sdk"} if status == "requires_action" else None,
        "payment_method": "pm_1MtwBwLkdIwHu7ixfFLqyHgm",
        "payment_method_types": ["card"],
        "status": status,
    }


def card_error(decline_code: str) -> dict[str, Any]:
    intent = payment_intent("requires_payment_method")
    intent["last_payment_error"] = {"code": "card_declined", "decline_code": decline_code}
    return {
        "error": {
            "charge": CHARGE_ID,
            "code": "card_declined",
            "decline_code": decline_code,
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "message": "Your card has insufficient funds.",
            "payment_intent": intent,
            "request_log_url": "https://dashboard.stripe.com/test/logs/req_test123",
            "type": "card_error",
        }
    }


def refund_object(amount: int = 1250, status: str = "succeeded", **metadata: str) -> dict[str, Any]:
    return {
        "id": "re_3MtwBwLkdIwHu7ix1FhGbjkd",
        "object": "refund",
        "amount": amount,
        "balance_transaction": "txn_3MtwBwLkdIwHu7ix1ZB6kbWo",
        "charge": CHARGE_ID,
        "created": 1680800600,
        "currency": "eur",
        "metadata": metadata,
        "payment_intent": PI_ID,
        "reason": None,
        "status": status,
    }


def event(
    event_type: str, obj: dict[str, Any], event_id: str = "evt_1NG8Du2eZvKYlo2CUI79vXWy"
) -> bytes:
    body = {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": 1680800610,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_test123", "idempotency_key": "payment-x"},
        "type": event_type,
    }
    return json.dumps(body, indent=2).encode()


def stripe_headers(
    body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp or int(time.time())
    )
    return {"Stripe-Signature": header}


def stripe_order(**kwargs: Any) -> Order:
    return order_create(provider="stripe", payment_method="pm_card_visa", **kwargs)


def paid_stripe_order(http: FakeStripeHTTP) -> Order:
    """A Stripe order whose payment intent was captured: the order is ``paid``."""
    order = stripe_order()
    payment = latest_payment(order)
    http.responses.append((200, payment_intent(metadata={"payment_id": str(payment.pk)})))
    payment_capture(payment_id=str(payment.pk))
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    return order


# --- Charges -----------------------------------------------------------------------------


def test_capture_creates_and_confirms_one_payment_intent_with_the_idempotency_key(
    http: FakeStripeHTTP,
) -> None:
    order = stripe_order()
    payment = latest_payment(order)
    http.responses.append((200, payment_intent(metadata={"payment_id": str(payment.pk)})))
    payment_capture(payment_id=str(payment.pk))
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.provider_reference == PI_ID
    assert order.status == Order.Status.PAID
    [sent] = http.requests
    assert sent["method"] == "post"
    assert sent["url"] == "https://api.stripe.com/v1/payment_intents"
    assert sent["headers"]["Idempotency-Key"] == payment.idempotency_key
    assert sent["headers"]["Authorization"] == "Bearer sk_test_offline"
    params = sent["params"]
    assert params["amount"] == ["1250"]
    assert params["currency"] == ["eur"]
    assert params["confirm"] == ["true"]
    assert params["payment_method"] == ["pm_card_visa"]
    assert params["metadata[payment_id]"] == [str(payment.pk)]


def test_a_card_error_is_a_decline_with_stripes_decline_code(http: FakeStripeHTTP) -> None:
    order = stripe_order()
    payment = latest_payment(order)
    http.responses.append((402, card_error("insufficient_funds")))
    payment_capture(payment_id=str(payment.pk))
    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == ("failed", "insufficient_funds")
    assert payment.failure_message == "Your card has insufficient funds."
    assert emails(order) == [("payment_failed", "queued")]  # sent after commit


@pytest.mark.parametrize(
    "answer",
    [
        (500, {"error": {"type": "api_error", "message": "Something went wrong."}}),
        (
            429,
            {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Slow"}},
        ),
        stripe.APIConnectionError("Network error: timed out", should_retry=True),
    ],
)
def test_outages_are_transient(http: FakeStripeHTTP, answer: Any) -> None:
    http.responses.append(answer)
    with pytest.raises(ProviderUnavailableError):
        _charge("12.50", "pm_card_visa")


def test_a_bad_api_key_is_a_provider_error_not_a_retry(http: FakeStripeHTTP) -> None:
    http.responses.append(
        (401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}})
    )
    with pytest.raises(PaymentProviderError) as caught:
        _charge("1.00", "pm_card_visa")
    assert not isinstance(caught.value, ProviderUnavailableError)


def test_requires_action_waits_for_the_webhook(http: FakeStripeHTTP) -> None:
    http.responses.append((200, payment_intent("requires_action")))
    result = _charge("12.50", "pm_card_authenticationRequired")
    assert (result.status, result.reference) == (ChargeStatus.REQUIRES_ACTION, PI_ID)
    http.responses.append((200, payment_intent("requires_action")))
    assert (
        StripeProvider().fetch_status(payment_reference=PI_ID).status
        == ChargeStatus.REQUIRES_ACTION
    )
    assert http.requests[-1]["url"].endswith(f"/v1/payment_intents/{PI_ID}")


def test_a_refund_goes_to_the_payment_intent_with_its_own_key(http: FakeStripeHTTP) -> None:
    http.responses.append((200, refund_object(500, "pending")))
    result = StripeProvider().refund(
        payment_reference=PI_ID,
        amount=Decimal("5.00"),
        currency="EUR",
        idempotency_key="refund-1",
        metadata={"refund_id": "r1"},
    )
    assert (result.status, result.reference) == (
        RefundStatus.PENDING,
        "re_3MtwBwLkdIwHu7ix1FhGbjkd",
    )
    sent = http.requests[-1]
    assert sent["url"] == "https://api.stripe.com/v1/refunds"
    assert sent["headers"]["Idempotency-Key"] == "refund-1"
    assert sent["params"]["payment_intent"] == [PI_ID]
    assert sent["params"]["amount"] == ["500"]
    assert sent["params"]["metadata[refund_id]"] == ["r1"]


def test_minor_units_respect_zero_decimal_currencies() -> None:
    assert to_minor_units(Decimal("12.50"), "EUR") == 1250
    assert to_minor_units(Decimal("500.00"), "JPY") == 500
    assert from_minor_units(1250, "eur") == Decimal("12.50")
    assert from_minor_units(500, "jpy") == Decimal("500.00")


# --- Webhooks through the API -------------------------------------------------------------


@pytest.fixture
def deliver(api_client: APIClient, django_capture_on_commit_callbacks: Any) -> Any:
    def send(body: bytes, headers: dict[str, str] | None = None) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return post_webhook(
                api_client, body, stripe_headers(body) if headers is None else headers, "stripe"
            )

    return send


def test_payment_intent_succeeded_pays_the_order(http: FakeStripeHTTP, deliver: Any) -> None:
    order = stripe_order()
    payment = latest_payment(order)
    body = event(
        "payment_intent.succeeded", payment_intent(metadata={"payment_id": str(payment.pk)})
    )
    response = deliver(body)
    assert response.status_code == 200, response.content
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, payment.provider_reference) == ("captured", PI_ID)
    assert order.status == Order.Status.PAID
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert http.requests == []  # no API call was needed


def test_payment_intent_payment_failed_fails_the_payment(
    http: FakeStripeHTTP, deliver: Any
) -> None:
    order = stripe_order()
    payment = latest_payment(order)
    intent = payment_intent("requires_payment_method", metadata={"payment_id": str(payment.pk)})
    intent["last_payment_error"] = {
        "code": "card_declined",
        "decline_code": "generic_decline",
        "message": "Your card was declined.",
        "type": "card_error",
    }
    deliver(event("payment_intent.payment_failed", intent))
    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == ("failed", "generic_decline")


def test_charge_refunded_settles_a_pending_refund(
    http: FakeStripeHTTP, deliver: Any, django_capture_on_commit_callbacks: Any
) -> None:
    order = paid_stripe_order(http)
    payment = latest_payment(order)
    http.responses.append((200, refund_object(1250, "pending")))
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_create(order=order, amount=None, restock=False, reason="", actor=None)
    refund.refresh_from_db()
    assert (refund.status, refund.provider_reference) == ("pending", "re_3MtwBwLkdIwHu7ix1FhGbjkd")
    charge = {
        "id": CHARGE_ID,
        "object": "charge",
        "amount": 1250,
        "amount_captured": 1250,
        "amount_refunded": 1250,
        "currency": "eur",
        "metadata": {"payment_id": str(payment.pk)},
        "payment_intent": PI_ID,
        "refunded": True,
        "refunds": {
            "object": "list",
            "data": [refund_object(1250, "succeeded", refund_id=str(refund.pk))],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/charges/{CHARGE_ID}/refunds",
        },
        "status": "succeeded",
    }
    assert deliver(event("charge.refunded", charge)).status_code == 200
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert order.status == Order.Status.REFUNDED
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    # The same event without the refunds list (newer API versions): already reflected.
    del charge["refunds"]
    deliver(event("charge.refunded", charge, event_id="evt_second"))
    assert WebhookEvent.objects.get(event_id="evt_second").status == WebhookEvent.Status.PROCESSED


def test_other_stripe_event_types_are_stored_and_ignored(
    http: FakeStripeHTTP, deliver: Any
) -> None:
    body = event("payment_intent.created", payment_intent("requires_payment_method"))
    assert deliver(body).status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


REASONS = {
    "missing": "missing_header",
    "malformed": "malformed_header",
    "wrong_secret": "signature_mismatch",
    "tampered": "signature_mismatch",
    "too_old": "timestamp_out_of_tolerance",
    "in_the_future": "timestamp_out_of_tolerance",
}


@pytest.mark.parametrize("case", sorted(REASONS))
def test_bad_stripe_signatures_are_400_and_store_nothing(
    http: FakeStripeHTTP, deliver: Any, case: str
) -> None:
    order = stripe_order()
    body = event(
        "payment_intent.succeeded",
        payment_intent(metadata={"payment_id": str(latest_payment(order).pk)}),
    )
    now = int(time.time())
    headers = {
        "missing": {},
        "malformed": {"Stripe-Signature": "t=abc,v1=zz"},
        "wrong_secret": stripe_headers(body, secret="whsec_other"),
        "tampered": stripe_headers(body),
        "too_old": stripe_headers(body, timestamp=now - 330),
        "in_the_future": stripe_headers(body, timestamp=now + 330),
    }[case]
    if case == "tampered":
        body = body.replace(b'"amount": 1250', b'"amount": 1251')
    response = deliver(body, headers)
    assert response.status_code == 400
    # The documented reason, never the SDK's free text.
    assert response.json()["error"] == "invalid_signature"
    assert response.json()["details"]["reason"] == REASONS[case]
    assert not WebhookEvent.objects.exists()
    assert latest_payment(order).status == Payment.Status.PENDING


def test_verify_without_a_configured_secret_refuses(http: FakeStripeHTTP) -> None:
    body = event("payment_intent.succeeded", payment_intent())
    # Signed with an empty key, the body would verify: our code refuses before the SDK.
    with pytest.raises(InvalidSignatureError) as caught:
        StripeProvider(webhook_secret="").verify_webhook(
            body=body, headers=stripe_headers(body, secret="")
        )
    assert caught.value.reason == "secret_not_configured"


def test_a_declined_payment_method_that_does_not_exist_is_a_decline(http: FakeStripeHTTP) -> None:
    http.responses.append(
        (
            400,
            {
                "error": {
                    "code": "resource_missing",
                    "message": "No such PaymentMethod: 'pm_nope'",
                    "param": "payment_method",
                    "type": "invalid_request_error",
                }
            },
        )
    )
    with pytest.raises(PaymentDeclinedError) as caught:
        _charge("1.00", "pm_nope")
    assert caught.value.decline_code == "resource_missing"
