"""Stripe, offline: 3-D Secure, pay again, external refunds and unhandled events.

The SDK talks to ``FakeStripeHTTP`` (``test_stripe``); payloads follow Stripe's API
reference shapes for PaymentIntents (``requires_action`` with ``use_stripe_sdk`` or
``redirect_to_url``), ``payment_intent.*`` events, ``charge.refunded`` (with and
without the expanded ``refunds`` list), ``refund.created`` and a thin v2 event.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.catalog.models import StockMovement
from apps.orders.models import Order
from apps.payments.conftest import pay_again
from apps.payments.factories import latest_payment
from apps.payments.models import Payment, Refund, WebhookEvent
from apps.payments.providers.stripe import StripeProvider
from apps.payments.services import payment_capture
from apps.payments.test_stripe import (
    PI_ID,
    FakeStripeHTTP,
    deliver,
    event,
    http,
    paid_stripe_order,
    payment_intent,
    refund_object,
    stripe_headers,
    stripe_order,
)

pytestmark = pytest.mark.django_db
__all__ = ["deliver", "http"]  # fixtures, used by name

CLIENT_SECRET = f"{PI_ID}_secret_YrKJUKribcBjcG8HVhfZluoGH"
RETURN_URL = "https://shop.example/checkout/done"
USE_STRIPE_SDK = {
    "type": "use_stripe_sdk",
    "use_stripe_sdk": {
        "type": "three_d_secure_redirect",
        "stripe_js": "https://hooks.stripe.com/redirect/authenticate/src_1Mtw?client_secret=src_x",
        "source": "src_1MtwBxLkdIwHu7ixIbQ3sbhz",
    },
}
REDIRECT = {
    "type": "redirect_to_url",
    "redirect_to_url": {
        "return_url": RETURN_URL,
        "url": "https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_1Mtw&payment_intent="
        f"{PI_ID}&payment_intent_client_secret={CLIENT_SECRET}&publishable_key=pk_test_x",
    },
}


def waiting_intent(payment: Payment, next_action: dict[str, Any]) -> dict[str, Any]:
    intent = payment_intent("requires_action", metadata={"payment_id": str(payment.pk)})
    intent["next_action"] = next_action
    return intent


def waiting_stripe_order(http: FakeStripeHTTP, *, user: Any, next_action: Any = None) -> Order:
    order = stripe_order(user=user)
    payment = latest_payment(order)
    Payment.objects.filter(pk=payment.pk).update(return_url=RETURN_URL)
    http.responses.append((200, waiting_intent(payment, next_action or REDIRECT)))
    payment_capture(payment_id=str(payment.pk))
    return order


def charge(amount_refunded: int, refunds: list[dict[str, Any]] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "ch_3MtwBwLkdIwHu7ix2KZ5Lvo1",
        "object": "charge",
        "amount": 1250,
        "amount_captured": 1250,
        "amount_refunded": amount_refunded,
        "captured": True,
        "currency": "eur",
        "metadata": {},
        "paid": True,
        "payment_intent": PI_ID,
        "refunded": amount_refunded == 1250,
        "status": "succeeded",
    }
    if refunds is not None:
        body["refunds"] = {
            "object": "list",
            "data": refunds,
            "has_more": False,
            "total_count": len(refunds),
            "url": "/v1/charges/ch_3MtwBwLkdIwHu7ix2KZ5Lvo1/refunds",
        }
    return body


# --- 3-D Secure ----------------------------------------------------------------------------


def test_requires_action_gives_the_owner_client_secret_and_next_action(
    http: FakeStripeHTTP, customer: Any, customer_client: APIClient, staff_client: APIClient
) -> None:
    order = waiting_stripe_order(http, user=customer, next_action=USE_STRIPE_SDK)
    payment = latest_payment(order)
    assert payment.status == Payment.Status.REQUIRES_ACTION
    [sent] = http.requests
    assert sent["params"]["return_url"] == [RETURN_URL]
    body = customer_client.get(f"/api/v1/payments/{payment.pk}/").json()
    assert body["client_secret"] == CLIENT_SECRET
    assert body["next_action"] == USE_STRIPE_SDK
    staff = staff_client.get(f"/api/v1/payments/{payment.pk}/").json()
    assert (staff["client_secret"], staff["next_action"]) == (None, None)
    assert CLIENT_SECRET not in str(customer_client.get(f"/api/v1/orders/{order.pk}/").json())


def test_the_requires_action_webhook_records_what_the_client_needs(
    http: FakeStripeHTTP, deliver: Any, customer: Any, customer_client: APIClient
) -> None:
    order = stripe_order(user=customer)
    payment = latest_payment(order)
    Payment.objects.filter(pk=payment.pk).update(provider_reference=PI_ID)
    body = event("payment_intent.requires_action", waiting_intent(payment, REDIRECT))
    assert deliver(body, stripe_headers(body)).status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    shown = customer_client.get(f"/api/v1/payments/{payment.pk}/").json()
    assert shown["status"] == "requires_action"
    assert shown["next_action"] == REDIRECT
    assert shown["client_secret"] == CLIENT_SECRET


def test_payment_intent_succeeded_after_authentication_pays_and_forgets_the_secret(
    http: FakeStripeHTTP, deliver: Any, customer: Any
) -> None:
    order = waiting_stripe_order(http, user=customer)
    payment = latest_payment(order)
    body = event(
        "payment_intent.succeeded", payment_intent(metadata={"payment_id": str(payment.pk)})
    )
    assert deliver(body, stripe_headers(body)).status_code == 200
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED
    assert (payment.client_secret, payment.next_action) == ("", {})
    assert order.status == Order.Status.PAID


def test_payment_intent_canceled_cancels_and_the_customer_may_pay_again(
    http: FakeStripeHTTP, deliver: Any, customer: Any
) -> None:
    order = waiting_stripe_order(http, user=customer)
    payment = latest_payment(order)
    intent = payment_intent("canceled", metadata={"payment_id": str(payment.pk)})
    intent.update({"cancellation_reason": "automatic", "canceled_at": 1680801000})
    body = event("payment_intent.canceled", intent)
    assert deliver(body, stripe_headers(body)).status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert latest_payment(order).status == Payment.Status.CANCELLED


def test_refresh_retrieves_the_intent_and_applies_it(
    http: FakeStripeHTTP, customer: Any, customer_client: APIClient
) -> None:
    order = waiting_stripe_order(http, user=customer)
    payment = latest_payment(order)
    http.responses.append((200, payment_intent(metadata={"payment_id": str(payment.pk)})))
    response = customer_client.post(f"/api/v1/payments/{payment.pk}/refresh/")
    assert response.status_code == 200
    assert response.json()["status"] == "captured"
    retrieve = http.requests[-1]
    assert (retrieve["method"], retrieve["url"]) == (
        "get",
        f"https://api.stripe.com/v1/payment_intents/{PI_ID}",
    )


def test_refresh_while_stripe_is_down_is_a_503_that_changes_nothing(
    http: FakeStripeHTTP, customer: Any, customer_client: APIClient
) -> None:
    import stripe

    order = waiting_stripe_order(http, user=customer)
    payment = latest_payment(order)
    http.responses.append(stripe.APIConnectionError("connection reset"))
    response = customer_client.post(f"/api/v1/payments/{payment.pk}/refresh/")
    assert response.status_code == 503
    assert response.json()["error"] == "provider_unavailable"
    assert latest_payment(order).status == Payment.Status.REQUIRES_ACTION


def test_pay_again_cancels_the_payment_intent_after_commit(
    http: FakeStripeHTTP,
    customer: Any,
    customer_client: APIClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    order = waiting_stripe_order(http, user=customer)
    abandoned = latest_payment(order)
    canceled = payment_intent("canceled", metadata={"payment_id": str(abandoned.pk)})
    http.responses.append((200, canceled))
    with django_capture_on_commit_callbacks(execute=True):
        response = pay_again(customer_client, order)
    assert response.status_code == 202, response.content
    cancel = http.requests[-1]
    assert (cancel["method"], cancel["url"]) == (
        "post",
        f"https://api.stripe.com/v1/payment_intents/{PI_ID}/cancel",
    )
    assert cancel["params"]["cancellation_reason"] == ["abandoned"]
    assert latest_payment(order).status == Payment.Status.CAPTURED
    abandoned.refresh_from_db()
    assert abandoned.status == Payment.Status.CANCELLED


def test_a_cancel_that_comes_too_late_refunds_the_duplicate(
    http: FakeStripeHTTP,
    customer: Any,
    customer_client: APIClient,
    django_capture_on_commit_callbacks: Any,
) -> None:
    order = waiting_stripe_order(http, user=customer)
    abandoned = latest_payment(order)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        pay_again(customer_client, order)
    cancel, capture = callbacks[-2:]
    with django_capture_on_commit_callbacks(execute=True):
        capture()  # the new sandbox payment is captured first
    unexpected = {
        "error": {
            "code": "payment_intent_unexpected_state",
            "message": "You cannot cancel this PaymentIntent because it has a status of succeeded.",
            "type": "invalid_request_error",
        }
    }
    succeeded = payment_intent(metadata={"payment_id": str(abandoned.pk)})
    refund = refund_object(refund_id="")
    http.responses += [(400, unexpected), (200, succeeded), (200, refund)]
    with django_capture_on_commit_callbacks(execute=True):
        cancel()
    abandoned.refresh_from_db()
    assert abandoned.status == Payment.Status.DUPLICATE
    given_back = Refund.objects.get(payment=abandoned)
    assert (given_back.kind, given_back.status) == ("duplicate_charge", "succeeded")
    refund_call = http.requests[-1]
    assert refund_call["url"] == "https://api.stripe.com/v1/refunds"
    assert refund_call["params"]["payment_intent"] == [PI_ID]
    assert refund_call["params"]["amount"] == ["1250"]
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.PAID, Decimal("0.00"))


# --- Refunds made in the Stripe dashboard ---------------------------------------------------


@pytest.mark.parametrize("expanded", [True, False], ids=["refunds_listed", "total_only"])
def test_charge_refunded_in_the_dashboard_is_an_external_refund(
    http: FakeStripeHTTP, deliver: Any, expanded: bool
) -> None:
    order = paid_stripe_order(http)
    moves = StockMovement.objects.count()
    refund = refund_object(amount=500)
    body = event("charge.refunded", charge(500, [refund] if expanded else None))
    assert deliver(body, stripe_headers(body)).status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.PROCESSED, stored.last_error
    external = Refund.objects.get()
    assert (external.kind, external.status, external.amount) == (
        Refund.Kind.EXTERNAL,
        Refund.Status.SUCCEEDED,
        Decimal("5.00"),
    )
    assert external.restock is False
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (
        Order.Status.PARTIALLY_REFUNDED,
        Decimal("5.00"),
    )
    assert StockMovement.objects.count() == moves  # nothing restocked automatically
    # Stripe sends refund.created for the same refund: recorded once.
    created = event("refund.created", refund, event_id="evt_refund_created_1")
    assert deliver(created, stripe_headers(created)).status_code == 200
    assert Refund.objects.count() == 1
    order.refresh_from_db()
    assert order.refunded_total == Decimal("5.00")


def test_refund_created_for_the_rest_refunds_the_order(http: FakeStripeHTTP, deliver: Any) -> None:
    order = paid_stripe_order(http)
    body = event("refund.created", refund_object(amount=1250))
    assert deliver(body, stripe_headers(body)).status_code == 200
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.REFUNDED, Decimal("12.50"))


def test_a_pending_refund_update_is_recorded_and_not_applied(
    http: FakeStripeHTTP, deliver: Any
) -> None:
    order = paid_stripe_order(http)
    body = event("refund.updated", refund_object(amount=500, status="pending"))
    assert deliver(body, stripe_headers(body)).status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_an_external_refund_larger_than_what_is_left_fails_for_ops(
    http: FakeStripeHTTP, deliver: Any
) -> None:
    order = paid_stripe_order(http)
    body = event("refund.created", refund_object(amount=5000))
    assert deliver(body, stripe_headers(body)).status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.status == WebhookEvent.Status.FAILED
    assert "exceeds" in stored.last_error
    order.refresh_from_db()
    assert order.refunded_total == 0


# --- Events we do not handle ------------------------------------------------------------------


def test_a_thin_v2_event_is_answered_200_and_ignored(http: FakeStripeHTTP, deliver: Any) -> None:
    thin = {
        "id": "evt_test_65R9Ijk8dKvhY3sH5yR16SBCz6bSQ2nlF8UY6nDNQvQMO",
        "object": "v2.core.event",
        "type": "v1.billing.meter.error_report_triggered",
        "livemode": False,
        "created": "2024-09-26T16:44:45.118Z",
        "related_object": {
            "id": "mtr_test_61R9IjkPNMUNUZzFq41H5cmBgTqpdGOC",
            "type": "billing.meter",
            "url": "/v1/billing/meters/mtr_test_61R9IjkPNMUNUZzFq41H5cmBgTqpdGOC",
        },
        "reason": None,
    }
    body = json.dumps(thin).encode()
    response = deliver(body, stripe_headers(body))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ignored"
    assert WebhookEvent.objects.get().last_error == "unhandled event type"


def test_an_unhandled_v1_type_without_data_object_is_ignored(
    http: FakeStripeHTTP, deliver: Any
) -> None:
    body = json.dumps(
        {"id": "evt_x1", "object": "event", "type": "customer.created", "data": {}}
    ).encode()
    response = deliver(body, stripe_headers(body))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ignored"


def test_the_provider_cancel_reports_an_already_succeeded_intent(http: FakeStripeHTTP) -> None:
    http.responses += [
        (
            400,
            {
                "error": {
                    "code": "payment_intent_unexpected_state",
                    "message": "succeeded",
                    "type": "invalid_request_error",
                }
            },
        ),
        (200, payment_intent()),
    ]
    result = StripeProvider().cancel(payment_reference=PI_ID)
    assert result.status == "succeeded"
