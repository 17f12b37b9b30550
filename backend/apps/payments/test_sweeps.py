"""The re-dispatch sweeps: payments, refunds, webhook events and emails whose task never ran."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from apps.notifications.models import EmailLog
from apps.notifications.services import email_redispatch
from apps.orders.factories import order_create
from apps.payments.models import Payment, WebhookEvent
from apps.payments.services import payment_work_redispatch

pytestmark = pytest.mark.django_db


def _past(seconds: int) -> Any:
    return timezone.now() - timedelta(seconds=seconds)


def test_redispatch_sends_rows_whose_task_never_ran() -> None:
    order = order_create()
    payment = order.payments.get()
    Payment.objects.filter(pk=payment.pk).update(created_at=_past(120))
    email = EmailLog.objects.create(order=order, kind="payment_failed", recipient=order.email)
    EmailLog.objects.filter(pk=email.pk).update(updated_at=_past(120))
    event = WebhookEvent.objects.create(
        provider="sandbox", event_id="evt_1", type="payment.succeeded", payload={}
    )
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=_past(120))
    recent = order_create().payments.get()  # just created: its task may still be on its way

    sent: list[tuple[str, Any]] = []
    with mock.patch(
        "workers.enqueue.publish",
        side_effect=lambda task, arg: sent.append((task.name, arg)) or True,
    ):
        counts = payment_work_redispatch()
        emails = email_redispatch()

    assert counts == {"payments": 1, "cancels": 0, "refunds": 0, "webhooks": 1}
    assert emails == 1
    assert ("apps.payments.tasks.payment_capture_task", str(payment.pk)) in sent
    assert ("apps.notifications.tasks.order_email_send_task", email.pk) in sent
    assert ("apps.payments.tasks.webhook_event_process_task", event.pk) in sent
    assert all(arg != str(recent.pk) for _, arg in sent)


def test_redispatch_resends_a_payment_whose_retries_went_silent() -> None:
    payment = order_create().payments.get()
    Payment.objects.filter(pk=payment.pk).update(
        created_at=_past(3600), attempts=2, last_attempt_at=_past(1800)
    )
    retrying = order_create().payments.get()
    Payment.objects.filter(pk=retrying.pk).update(
        created_at=_past(3600), attempts=1, last_attempt_at=_past(30)
    )
    with mock.patch("workers.enqueue.publish", return_value=True) as publish:
        payment_work_redispatch()
    args = [call.args[1] for call in publish.call_args_list]
    assert str(payment.pk) in args
    assert str(retrying.pk) not in args


def test_redispatch_stops_at_the_first_broker_failure_and_loses_nothing() -> None:
    for _ in range(3):
        payment = order_create().payments.get()
        Payment.objects.filter(pk=payment.pk).update(created_at=_past(120))
    with mock.patch("workers.enqueue.publish", return_value=False) as publish:
        counts = payment_work_redispatch()
    assert counts["payments"] == 0
    assert publish.call_count == 1  # it stopped instead of hammering a dead broker
    assert Payment.objects.filter(status="pending").count() == 3  # still there for next time
