"""Pay again (POST /orders/{id}/pay/) and reading a payment (GET /payments/{id}/)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from apps.orders.factories import order_create
from apps.orders.models import Order
from apps.payments.conftest import VISA, emails, pay_again
from apps.payments.factories import latest_payment, order_paid
from apps.payments.models import Payment, SandboxCharge
from apps.payments.services import payment_capture

pytestmark = pytest.mark.django_db

GUEST_TOKEN = "guest-order-token-0123456789abcdef"


def declined_order(**kwargs: Any) -> Order:
    order = order_create(payment_method="tok_chargeDeclined", **kwargs)
    payment_capture(payment_id=str(latest_payment(order).pk))
    return order


@pytest.fixture
def pay(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """POST /pay/ with a client and run the capture (and emails) after commit."""

    def post(client: APIClient, order: Order, body: dict[str, Any] = VISA, **headers: str) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return pay_again(client, order, body, **headers)

    return post


def test_decline_then_pay_again_with_tok_visa_pays_the_order_with_one_charge(
    pay: Callable[..., Any], customer_client: APIClient, customer: Any
) -> None:
    order = declined_order(user=customer)
    response = pay(customer_client, order)
    assert response.status_code == 202, response.content
    body = response.json()
    new = Payment.objects.get(pk=body["id"])
    assert body["order"] == str(order.pk)
    assert (body["provider"], body["amount"], body["currency"]) == ("sandbox", "12.50", "EUR")
    assert new.payment_method == "tok_visa"
    assert new.status == Payment.Status.CAPTURED
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.payments.count() == 2
    assert SandboxCharge.objects.filter(status="succeeded").count() == 1
    assert [kind for kind, _ in emails(order)] == ["payment_failed", "order_confirmation"]


def test_a_guest_pays_again_with_the_order_token_only(
    pay: Callable[..., Any], api_client: APIClient
) -> None:
    order = declined_order(guest_token=GUEST_TOKEN)
    assert pay(api_client, order).status_code == 404
    assert pay(api_client, order, HTTP_X_ORDER_TOKEN="wrong").status_code == 404
    assert order.payments.count() == 1
    response = pay(api_client, order, HTTP_X_ORDER_TOKEN=GUEST_TOKEN)
    assert response.status_code == 202
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_another_customers_order_is_a_404_and_staff_may_pay(
    pay: Callable[..., Any], other_client: APIClient, staff_client: APIClient, customer: Any
) -> None:
    order = declined_order(user=customer)
    denied = pay(other_client, order)
    assert denied.status_code == 404
    assert denied.json()["error"] == "not_found"
    assert order.payments.count() == 1
    assert pay(staff_client, order).status_code == 202


@pytest.mark.parametrize("state", ["pending", "captured"])
def test_paying_again_needs_a_failed_latest_payment(
    pay: Callable[..., Any], staff_client: APIClient, state: str
) -> None:
    token = {"pending": "tok_visa", "requires_action": "tok_requiresAction"}.get(state, "tok_visa")
    order = order_create(payment_method=token)
    if state != "pending":
        payment_capture(payment_id=str(latest_payment(order).pk))
    response = pay(staff_client, order)
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_state"
    assert order.payments.count() == 1


def test_paying_after_the_deadline_is_refused(
    pay: Callable[..., Any], staff_client: APIClient
) -> None:
    order = declined_order(deadline=timedelta(minutes=-1))
    response = pay(staff_client, order)
    assert response.status_code == 409
    assert "deadline" in response.json()["details"]["message"]
    assert order.payments.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"provider": "paypal", "token": "tok_visa"},
        {"provider": "sandbox"},
        {"provider": "sandbox", "token": "tok_visa", "amount": "0.01"},
        {"provider": "sandbox", "token": "x" * 256},
    ],
)
def test_invalid_pay_bodies_are_400(
    pay: Callable[..., Any], staff_client: APIClient, body: dict[str, Any]
) -> None:
    order = declined_order()
    response = pay(staff_client, order, body)
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert order.payments.count() == 1


def test_a_declined_retry_can_be_retried_again(
    pay: Callable[..., Any], staff_client: APIClient
) -> None:
    order = declined_order()
    again = pay(staff_client, order, {"provider": "sandbox", "token": "tok_insufficientFunds"})
    assert again.status_code == 202
    assert again.json()["status"] == "pending"  # the capture runs after commit
    retried = Payment.objects.get(pk=again.json()["id"])
    assert (retried.status, retried.failure_code) == ("failed", "insufficient_funds")
    assert pay(staff_client, order).status_code == 202
    assert [kind for kind, _ in emails(order)] == [
        "payment_failed",
        "payment_failed",
        "order_confirmation",
    ]


def test_an_idempotency_key_replays_the_payment_instead_of_paying_twice(
    pay: Callable[..., Any], customer_client: APIClient, customer: Any
) -> None:
    order = declined_order(user=customer)
    first = pay(customer_client, order, HTTP_IDEMPOTENCY_KEY="pay-1")
    again = pay(customer_client, order, HTTP_IDEMPOTENCY_KEY="pay-1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert order.payments.count() == 2
    assert SandboxCharge.objects.filter(status="succeeded").count() == 1


def test_the_pay_action_is_throttled_by_the_payment_scope(
    pay: Callable[..., Any], staff_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"payment": "2/min"})
    order = declined_order()
    assert pay(staff_client, order, {}).status_code == 400
    assert pay(staff_client, order, {}).status_code == 400
    throttled = pay(staff_client, order, {})
    assert throttled.status_code == 429
    assert throttled.json()["error"] == "throttled"


# --- GET /payments/{id}/ ------------------------------------------------------------------


def _get(client: APIClient, payment: Payment, **headers: str) -> Any:
    return client.get(f"/api/v1/payments/{payment.pk}/", **headers)


def test_the_owner_reads_a_payment_with_its_refunds(
    customer_client: APIClient, customer: Any
) -> None:
    payment = latest_payment(order_paid(user=customer))
    response = _get(customer_client, payment)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(payment.pk)
    assert (body["status"], body["amount"], body["refunded_amount"]) == (
        "captured",
        "12.50",
        "0.00",
    )
    assert body["refunds"] == []
    assert "payment_method" not in body


def test_only_the_owner_staff_or_the_guest_token_see_a_payment(
    other_client: APIClient,
    staff_client: APIClient,
    api_client: APIClient,
    customer: Any,
) -> None:
    mine = latest_payment(order_paid(user=customer))
    assert _get(other_client, mine).status_code == 404
    assert _get(api_client, mine).status_code == 404
    assert _get(staff_client, mine).status_code == 200
    guest = latest_payment(order_paid(guest_token=GUEST_TOKEN))
    assert _get(api_client, guest).status_code == 404
    assert _get(api_client, guest, HTTP_X_ORDER_TOKEN=GUEST_TOKEN).status_code == 200
    assert _get(api_client, mine, HTTP_X_ORDER_TOKEN=GUEST_TOKEN).status_code == 404
    assert staff_client.get("/api/v1/payments/not-a-uuid/").status_code == 404
