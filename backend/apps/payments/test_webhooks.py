"""Webhooks: signature first, stored once, applied by the same function as capture."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings
from rest_framework.test import APIClient

from apps.orders.factories import order_create
from apps.orders.models import Order, OrderEvent
from apps.payments.conftest import emails, post_webhook
from apps.payments.factories import latest_payment, order_paid, payment_event_body
from apps.payments.models import Payment, Refund, SandboxCharge, SandboxRefund, WebhookEvent
from apps.payments.providers.sandbox import sandbox_event_body, sandbox_sign
from apps.payments.services import payment_capture, refund_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliver(api_client: APIClient, django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Sign and POST a body, then run what was sent after commit (the processing task)."""

    def send(body: bytes, headers: dict[str, str] | None = None) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return post_webhook(
                api_client, body, sandbox_sign(body) if headers is None else headers
            )

    return send


def test_payment_succeeded_before_capture_pays_and_the_capture_does_nothing(
    deliver: Callable[..., Any],
) -> None:
    order = order_create()
    payment = latest_payment(order)
    response = deliver(payment_event_body(payment))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "received"
    assert body["duplicate"] is False
    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts, event.type) == ("processed", 1, "payment.succeeded")
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert order.status == Order.Status.PAID
    paid = OrderEvent.objects.get(order=order, to_status=Order.Status.PAID)
    assert paid.actor_kind == OrderEvent.ActorKind.PROVIDER
    # The capture task arrives late: the webhook won, nothing is charged.
    payment_capture(payment_id=str(payment.pk))
    assert not SandboxCharge.objects.exists()
    assert OrderEvent.objects.filter(order=order, to_status=Order.Status.PAID).count() == 1
    assert emails(order) == [("order_confirmation", "sent")]


def test_payment_succeeded_after_capture_is_processed_without_change(
    deliver: Callable[..., Any],
) -> None:
    order = order_paid()
    response = deliver(payment_event_body(latest_payment(order)))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.last_error) == ("processed", "")
    assert OrderEvent.objects.filter(order=order, to_status=Order.Status.PAID).count() == 1
    assert [kind for kind, _ in emails(order)] == ["order_confirmation"]


def test_payment_failed_after_captured_is_ignored_as_stale(deliver: Callable[..., Any]) -> None:
    order = order_paid()
    payment = latest_payment(order)
    response = deliver(payment_event_body(payment, "payment.failed", reason="card_declined"))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.IGNORED
    assert "stale" in event.last_error
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, payment.failure_code) == ("captured", "")
    assert order.status == Order.Status.PAID
    assert [kind for kind, _ in emails(order)] == ["order_confirmation"]


def test_requires_action_settled_by_payment_failed_webhook(
    deliver: Callable[..., Any],
) -> None:
    order = order_create(payment_method="tok_requiresAction")
    payment = latest_payment(order)
    payment_capture(payment_id=str(payment.pk))
    response = deliver(
        payment_event_body(payment, "payment.failed", reason="authentication_required")
    )
    assert response.status_code == 200
    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == ("failed", "authentication_required")
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert emails(order) == [("payment_failed", "sent")]


def test_a_duplicate_delivery_is_a_200_and_changes_nothing(deliver: Callable[..., Any]) -> None:
    order = order_create()
    body = payment_event_body(latest_payment(order))
    first = deliver(body)
    again = deliver(body)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["status"] == "processed"
    event = WebhookEvent.objects.get()
    assert event.attempts == 1
    assert OrderEvent.objects.filter(order=order, to_status=Order.Status.PAID).count() == 1
    assert len(mail.outbox) == 1


def _headers_for(body: bytes) -> dict[str, dict[str, str] | None]:
    now = int(time.time())
    good = sandbox_sign(body)["X-Sandbox-Signature"]
    return {
        "missing": {},
        "empty": {"X-Sandbox-Signature": ""},
        "malformed": {"X-Sandbox-Signature": "v1=deadbeef"},
        "no_timestamp": {"X-Sandbox-Signature": good.split(",")[1]},
        "wrong_secret": sandbox_sign(body, secret="whsec_somebody_else"),
        "too_old": sandbox_sign(body, timestamp=now - 330),
        "in_the_future": sandbox_sign(body, timestamp=now + 330),
        "other_header": {"X-Signature": good},
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "empty",
        "malformed",
        "no_timestamp",
        "wrong_secret",
        "too_old",
        "in_the_future",
        "other_header",
    ],
)
def test_a_bad_signature_is_a_400_and_stores_nothing(
    deliver: Callable[..., Any], case: str
) -> None:
    order = order_create()
    body = payment_event_body(latest_payment(order))
    response = deliver(body, _headers_for(body)[case])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_signature"
    assert not WebhookEvent.objects.exists()
    assert latest_payment(order).status == Payment.Status.PENDING


def test_a_body_changed_by_one_byte_is_refused(deliver: Callable[..., Any]) -> None:
    order = order_create()
    body = payment_event_body(latest_payment(order))
    headers = sandbox_sign(body)
    changed = body.replace(b'"EUR"', b'"EUr"')
    assert len(changed) == len(body)
    response = deliver(changed, headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_signature"
    assert not WebhookEvent.objects.exists()


def test_unknown_or_disabled_provider_is_404(api_client: APIClient) -> None:
    body = b"{}"
    assert post_webhook(api_client, body, provider="paypal").status_code == 404
    with override_settings(PAYMENT_PROVIDERS=["sandbox"]):
        response = post_webhook(api_client, body, {"Stripe-Signature": "t=1,v1=00"}, "stripe")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert not WebhookEvent.objects.exists()


@override_settings(SANDBOX_WEBHOOK_SECRET="")
def test_without_a_configured_secret_every_event_is_refused(deliver: Callable[..., Any]) -> None:
    body = b'{"id": "evt_1", "type": "payment.succeeded", "data": {}}'
    response = deliver(body, sandbox_sign(body, secret=""))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_signature"


def test_a_signed_body_that_is_not_an_event_is_a_400_parse_error(
    deliver: Callable[..., Any],
) -> None:
    response = deliver(b"not json at all")
    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"
    assert not WebhookEvent.objects.exists()


def test_the_webhook_needs_no_credentials_and_no_csrf_token() -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-valid-token")
    order = order_create()
    body = payment_event_body(latest_payment(order))
    response = post_webhook(client, body, sandbox_sign(body))
    assert response.status_code == 200, response.content
    assert WebhookEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [({"amount": "12.49"}, "amount mismatch"), ({"currency": "USD"}, "currency mismatch")],
)
def test_a_mismatched_amount_or_currency_is_recorded_and_not_applied(
    deliver: Callable[..., Any], change: dict[str, str], expected: str
) -> None:
    order = order_create()
    payment = latest_payment(order)
    response = deliver(payment_event_body(payment, **change))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    assert expected in event.last_error
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert order.status == Order.Status.PENDING_PAYMENT


def test_an_event_for_an_unknown_payment_is_recorded_as_failed(
    deliver: Callable[..., Any],
) -> None:
    body = sandbox_event_body(
        event_type="payment.succeeded",
        payment_id="7b0e5f0c-0000-4000-8000-000000000000",
        amount="1.00",
        currency="EUR",
    )
    assert deliver(body).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    assert "no sandbox payment matches" in event.last_error


def test_an_unhandled_event_type_is_stored_and_ignored(deliver: Callable[..., Any]) -> None:
    body = json.dumps({"id": "evt_x", "type": "customer.created", "data": {}}).encode()
    response = deliver(body)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.last_error) == ("ignored", "unhandled event type")
    assert event.payload["type"] == "customer.created"


def test_refund_succeeded_webhook_settles_a_pending_refund_first(
    deliver: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> None:
    order = order_paid()
    payment = latest_payment(order)
    with django_capture_on_commit_callbacks(execute=False) as sent:  # the task is not run
        refund = refund_create(order=order, amount=None, restock=False, reason="x", actor=None)
    assert len(sent) == 1
    body = payment_event_body(
        payment, "refund.succeeded", amount=str(refund.amount), refund_id=str(refund.pk)
    )
    assert deliver(body).status_code == 200
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert order.status == Order.Status.REFUNDED
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    # The refund task runs late: the webhook won, the provider is not asked again.
    with django_capture_on_commit_callbacks(execute=True):
        sent[0]()
    assert not SandboxRefund.objects.exists()
    assert [kind for kind, _ in emails(order)] == ["order_confirmation", "refund_issued"]


def test_refund_webhook_with_a_different_amount_is_not_applied(
    deliver: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> None:
    order = order_paid()
    payment = latest_payment(order)
    with django_capture_on_commit_callbacks(execute=False):
        refund = refund_create(
            order=order, amount=payment.amount, restock=False, reason="", actor=None
        )
    body = payment_event_body(payment, "refund.succeeded", amount="1.00", refund_id=str(refund.pk))
    deliver(body)
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED
    assert "amount mismatch" in event.last_error
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING


def test_a_signed_event_with_nul_is_a_400_parse_error_and_stores_nothing(
    deliver: Callable[..., Any],
) -> None:
    # PostgreSQL text and jsonb cannot hold U+0000: it must be refused, not a 500.
    payment = latest_payment(order_create())
    bodies = [
        json.dumps(  # a handled event, NUL inside its data
            {
                "id": "evt_n",
                "type": "payment.succeeded",
                "data": {
                    "payment_id": str(payment.pk),
                    "amount": str(payment.amount),
                    "currency": payment.currency,
                    "note": "a\x00b",
                },
            }
        ).encode(),
        b'{"id": "evt_\\u0000", "type": "customer.created", "data": {}}',  # unhandled type
        b'{"id": "evt_k", "type": "customer.created", "data": {"k\\u0000": 1}}',  # in a key
    ]
    for body in bodies:
        response = deliver(body)
        assert response.status_code == 400, response.content
        assert response.json()["error"] == "parse_error"
        assert "NUL" in response.json()["details"]["reason"]
    assert not WebhookEvent.objects.exists()
