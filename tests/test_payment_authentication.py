"""3-D Secure end to end on a real worker: the flow a storefront builds against the sandbox.

Checkout with ``tok_requiresAction`` and a ``return_url`` → the worker's capture leaves
the payment ``requires_action`` → the owner reads ``next_action`` → the simulated bank
page settles it and redirects to ``return_url`` → ``refresh`` agrees. Paying again
while a payment waits cancels it at the provider on the worker; and when the first
bank page succeeds anyway (the race), one of the two charges is refunded by the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.test import APIClient

from apps.catalog.factories import variant_create
from apps.notifications.models import EmailLog
from apps.orders.models import Order
from apps.payments.models import Payment, Refund, SandboxCharge, SandboxRefund
from apps.payments.providers.sandbox import sandbox_authenticate
from config.testing import api_checkout
from tests.conftest import Worker, wait_for
from tests.invariants import assert_shop_invariants

pytestmark = pytest.mark.django_db(transaction=True)

RETURN_URL = "https://shop.example/checkout/complete"


def _checkout(client: APIClient, token: str = "tok_requiresAction") -> dict[str, Any]:
    variant = variant_create(price="10.00", stock=5)
    return api_checkout(
        client, variant.pk, email="ada@example.com", token=token, return_url=RETURN_URL
    )


def _pay_again(client: APIClient, placed: dict[str, Any]) -> str:
    """The guest pays the placed order again by card (202); the new payment's id."""
    again = client.post(
        f"/api/v1/orders/{placed['id']}/pay/",
        {"provider": "sandbox", "token": "tok_visa"},
        format="json",
        HTTP_X_ORDER_TOKEN=placed["access_token"],
    )
    assert again.status_code == 202, again.content
    return str(again.json()["id"])


def _payment_where(payment_id: str, status: str) -> Callable[[], Payment | None]:
    return lambda: Payment.objects.filter(pk=payment_id, status=status).first()


def _kept_charges(order: Order) -> int:
    """Successful sandbox charges of the order's payments that were not refunded."""
    keys = [payment.idempotency_key for payment in order.payments.all()]
    charges = SandboxCharge.objects.filter(idempotency_key__in=keys, status="succeeded")
    return sum(1 for charge in charges if not SandboxRefund.objects.filter(charge=charge).exists())


def test_the_three_d_secure_flow_with_the_sandbox_and_a_real_worker(
    celery_worker: Worker,
) -> None:
    client = APIClient()
    placed = _checkout(client)
    token = placed["access_token"]
    payment_id = placed["payment"]["id"]
    wait_for(_payment_where(payment_id, Payment.Status.REQUIRES_ACTION), timeout=30)

    shown = client.get(f"/api/v1/payments/{payment_id}/", HTTP_X_ORDER_TOKEN=token).json()
    action = shown["next_action"]
    assert action["type"] == "redirect_to_url"
    assert action["redirect_to_url"]["return_url"] == RETURN_URL
    bank_page = urlsplit(action["redirect_to_url"]["url"])

    # The customer authenticates on the (simulated) bank page and is sent back.
    back = client.get(bank_page.path, {"result": "succeed"})
    assert back.status_code == 302
    location = urlsplit(back["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == RETURN_URL
    assert parse_qs(location.query)["redirect_status"] == ["succeeded"]

    # Back on the shop, the client asks for the status before any webhook.
    refreshed = client.post(f"/api/v1/payments/{payment_id}/refresh/", HTTP_X_ORDER_TOKEN=token)
    assert refreshed.status_code == 200
    assert refreshed.json()["status"] == "captured"
    assert refreshed.json()["next_action"] is None
    order = Order.objects.get(pk=placed["id"])
    assert order.status == Order.Status.PAID
    wait_for(
        lambda: EmailLog.objects.filter(
            order=order, kind=EmailLog.Kind.ORDER_CONFIRMATION, status="sent"
        ).first(),
        timeout=30,
    )
    assert _kept_charges(order) == 1
    assert_shop_invariants()


def test_paying_again_cancels_the_waiting_payment_on_the_worker(celery_worker: Worker) -> None:
    client = APIClient()
    placed = _checkout(client)
    first = placed["payment"]["id"]
    wait_for(_payment_where(first, Payment.Status.REQUIRES_ACTION), timeout=30)

    wait_for(_payment_where(_pay_again(client, placed), Payment.Status.CAPTURED), timeout=30)
    abandoned = Payment.objects.get(pk=first)
    assert abandoned.status == Payment.Status.CANCELLED
    wait_for(
        lambda: SandboxCharge.objects.filter(
            pk=abandoned.provider_reference, status="canceled"
        ).first(),
        timeout=30,
    )
    order = Order.objects.get(pk=placed["id"])
    assert order.status == Order.Status.PAID
    assert _kept_charges(order) == 1
    assert_shop_invariants()


def test_a_late_bank_page_success_never_leaves_two_charges(
    worker_factory: Callable[..., Worker],
) -> None:
    """The race: the first bank page succeeds at the provider after the customer paid
    again, before the worker cancels it. The worker then runs the cancel and the new
    capture concurrently; whichever order they take, exactly one charge is kept."""
    client = APIClient()
    placed = _checkout(client)
    first_id = placed["payment"]["id"]
    # No worker yet: capture by hand so the pay-again tasks wait in the broker.
    from apps.payments.services import payment_capture

    payment_capture(payment_id=first_id)
    first = Payment.objects.get(pk=first_id)
    assert first.status == Payment.Status.REQUIRES_ACTION
    _pay_again(client, placed)
    sandbox_authenticate(charge_id=first.provider_reference, result="succeed")

    worker_factory(queues="payments,emails", concurrency=2)
    order = wait_for(
        lambda: Order.objects.filter(pk=placed["id"], status=Order.Status.PAID).first(),
        timeout=30,
    )

    def settled() -> bool:
        payments = list(order.payments.all())
        busy = [p for p in payments if p.status in (Payment.Status.PENDING,)]
        refunds = Refund.objects.filter(order=order, status=Refund.Status.PENDING)
        first_now = next(p for p in payments if str(p.pk) == first_id)
        cancel_done = first_now.status != Payment.Status.CANCELLED
        return not busy and not refunds.exists() and cancel_done

    wait_for(settled, timeout=30)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.refunded_total == 0
    assert _kept_charges(order) == 1
    statuses = sorted(order.payments.values_list("status", flat=True))
    assert statuses in (
        ["captured", "duplicate"],  # the new capture won: the first is refunded
        ["captured", "failed"],  # the cancel found the success first: nothing charged again
    )
    for refund in Refund.objects.filter(order=order):
        assert (refund.kind, refund.status) == ("duplicate_charge", "succeeded")
    assert_shop_invariants()
