"""Payments end to end on a real worker: PostgreSQL, Redis, Celery on the ``payments`` queue.

Each test drives the public API in this process (cart, checkout, pay again,
webhook, refund); capture, webhook processing, refunds and emails run on the
worker. The sandbox records charges in the database shared by every process,
so "exactly one successful charge" is counted, not assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.factories import jwt_headers
from apps.accounts.models import User
from apps.catalog.factories import variant_create
from apps.catalog.models import Stock, Variant
from apps.notifications.models import EmailLog
from apps.orders.models import Order
from apps.payments.factories import payment_event_body
from apps.payments.models import Payment, Refund, SandboxCharge, WebhookEvent
from apps.payments.providers.sandbox import sandbox_sign
from config.testing import api_checkout
from tests.conftest import Worker, wait_for
from tests.invariants import assert_shop_invariants

pytestmark = pytest.mark.django_db(transaction=True)


def _checkout(client: APIClient, variant: Variant, token: str, quantity: int = 2) -> dict[str, Any]:
    """A guest buys ``quantity`` units through the API; returns the checkout response."""
    return api_checkout(
        client,
        variant.pk,
        email="grace@example.com",
        quantity=quantity,
        token=token,
        headers={"HTTP_IDEMPOTENCY_KEY": f"checkout-{variant.pk}"},
    )


def _order_where(order_id: str, **conditions: Any) -> Callable[[], Order | None]:
    return lambda: Order.objects.filter(pk=order_id, **conditions).first()


def _successful_charges(order: Order) -> int:
    keys = [payment.idempotency_key for payment in order.payments.all()]
    return SandboxCharge.objects.filter(idempotency_key__in=keys, status="succeeded").count()


def _email(order: Order, kind: str) -> Callable[[], EmailLog | None]:
    return lambda: EmailLog.objects.filter(order=order, kind=kind, status="sent").first()


def test_checkout_capture_on_the_worker_pays_and_confirms_once(celery_worker: Worker) -> None:
    variant = variant_create(price="10.00", stock=5)
    placed = _checkout(APIClient(), variant, "tok_visa")
    order = wait_for(_order_where(placed["id"], status=Order.Status.PAID), timeout=30)
    payment = order.payments.get()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.attempts == 1
    assert payment.amount == order.total
    wait_for(_email(order, EmailLog.Kind.ORDER_CONFIRMATION), timeout=30)
    assert _successful_charges(order) == 1
    assert SandboxCharge.objects.get(idempotency_key=payment.idempotency_key).calls == 1
    assert Stock.objects.get(variant=variant).on_hand == 3
    assert_shop_invariants()


def test_decline_then_pay_again_with_tok_visa_pays_with_exactly_one_charge(
    celery_worker: Worker,
) -> None:
    variant = variant_create(price="7.50", stock=5)
    client = APIClient()
    placed = _checkout(client, variant, "tok_chargeDeclined")
    order_id, order_token = placed["id"], placed["access_token"]
    assert order_token

    def declined() -> Payment | None:
        return Payment.objects.filter(order_id=order_id, status=Payment.Status.FAILED).first()

    failed = wait_for(declined, timeout=30)
    assert failed.failure_code == "card_declined"
    order = Order.objects.get(pk=order_id)
    assert order.status == Order.Status.PENDING_PAYMENT
    wait_for(_email(order, EmailLog.Kind.PAYMENT_FAILED), timeout=30)

    response = client.post(
        f"/api/v1/orders/{order_id}/pay/",
        {"provider": "sandbox", "token": "tok_visa"},
        format="json",
        HTTP_X_ORDER_TOKEN=order_token,
        HTTP_IDEMPOTENCY_KEY="pay-again-1",
    )
    assert response.status_code == 202, response.content
    order = wait_for(_order_where(order_id, status=Order.Status.PAID), timeout=30)
    assert order.payments.count() == 2
    assert Payment.objects.get(pk=response.json()["id"]).status == Payment.Status.CAPTURED
    assert _successful_charges(order) == 1
    assert SandboxCharge.objects.filter(status="declined").count() == 1
    wait_for(_email(order, EmailLog.Kind.ORDER_CONFIRMATION), timeout=30)
    assert_shop_invariants()


def test_tok_timeout_is_retried_by_the_worker_with_backoff_until_captured(
    celery_worker: Worker,
) -> None:
    variant = variant_create(price="3.00", stock=5)
    placed = _checkout(APIClient(), variant, "tok_timeout", quantity=1)
    order = wait_for(_order_where(placed["id"], status=Order.Status.PAID), timeout=60)
    payment = order.payments.get()
    assert payment.attempts == 3
    charge = SandboxCharge.objects.get(idempotency_key=payment.idempotency_key)
    assert (charge.calls, charge.status) == (3, "succeeded")
    wait_for(_email(order, EmailLog.Kind.ORDER_CONFIRMATION), timeout=30)
    assert_shop_invariants()


def test_requires_action_is_settled_by_a_signed_webhook_on_the_worker(
    celery_worker: Worker,
) -> None:
    variant = variant_create(price="4.00", stock=5)
    placed = _checkout(APIClient(), variant, "tok_requiresAction", quantity=1)

    def waiting() -> Payment | None:
        return Payment.objects.filter(
            order_id=placed["id"], status=Payment.Status.REQUIRES_ACTION
        ).first()

    payment = wait_for(waiting, timeout=30)
    body = payment_event_body(payment)
    response = APIClient().generic(
        "POST",
        "/api/v1/payments/webhooks/sandbox/",
        data=body.decode(),
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=sandbox_sign(body)["X-Sandbox-Signature"],
    )
    assert response.status_code == 200, response.content
    order = wait_for(_order_where(placed["id"], status=Order.Status.PAID), timeout=30)
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    wait_for(_email(order, EmailLog.Kind.ORDER_CONFIRMATION), timeout=30)
    assert_shop_invariants()


def test_a_staff_refund_with_restock_runs_on_the_worker(celery_worker: Worker) -> None:
    variant = variant_create(price="10.00", stock=5)
    placed = _checkout(APIClient(), variant, "tok_visa")
    order = wait_for(_order_where(placed["id"], status=Order.Status.PAID), timeout=30)
    staff = User.objects.create_user(email="ops@example.com", password="x", is_staff=True)
    client = APIClient()
    client.credentials(**jwt_headers(staff))
    response = client.post(
        f"/api/v1/orders/{order.pk}/refund/",
        {"amount": None, "restock": True, "reason": "returned"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="refund-1",
    )
    assert response.status_code == 202, response.content
    order = wait_for(_order_where(str(order.pk), status=Order.Status.REFUNDED), timeout=30)
    assert order.refunded_total == order.total
    assert Refund.objects.get(order=order).status == Refund.Status.SUCCEEDED
    assert Stock.objects.get(variant=variant).on_hand == 5
    wait_for(_email(order, EmailLog.Kind.REFUND_ISSUED), timeout=30)
    assert_shop_invariants()
