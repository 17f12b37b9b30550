"""Admin: payments by status, refunds, webhook events with their payload, all read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.payments.factories import latest_payment, order_paid
from apps.payments.models import Payment, Refund, WebhookEvent
from apps.payments.services import refund_create

pytestmark = pytest.mark.django_db


def test_payments_refunds_and_webhook_events_are_listed_and_read_only(
    admin_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    order = order_paid()
    payment = latest_payment(order)
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_create(order=order, amount=None, restock=False, reason="x", actor=None)
    event = WebhookEvent.objects.create(
        provider="sandbox", event_id="evt_admin", type="payment.succeeded", payload={"id": "e"}
    )
    pages = [
        "/admin/payments/payment/?status__exact=captured",
        f"/admin/payments/payment/{payment.pk}/change/",
        "/admin/payments/refund/",
        f"/admin/payments/refund/{refund.pk}/change/",
        "/admin/payments/webhookevent/?status__exact=received",
        f"/admin/payments/webhookevent/{event.pk}/change/",
        "/admin/payments/sandboxcharge/",
    ]
    for url in pages:
        assert admin_client.get(url).status_code == 200, url
    detail = admin_client.get(f"/admin/payments/webhookevent/{event.pk}/change/")
    assert b'name="payload"' not in detail.content  # shown, not editable
    assert b"evt_admin" in detail.content
    # No form can change a payment's status behind the services' back.
    admin_client.post(f"/admin/payments/payment/{payment.pk}/change/", {"status": "failed"})
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.CAPTURED
    assert admin_client.get("/admin/payments/refund/add/").status_code == 403
    assert Refund.objects.count() == 1
