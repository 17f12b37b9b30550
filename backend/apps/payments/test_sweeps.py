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


def test_an_attempt_older_than_the_hard_time_limit_with_no_retry_scheduled_is_sent_again(
    settings: Any,
) -> None:
    """Its worker died mid-attempt (the whole worker: nothing will redeliver it soon)."""
    assert settings.REDISPATCH_STALE_ATTEMPT_SECONDS > settings.CELERY_TASK_TIME_LIMIT
    # Killed at the start of an attempt, it is sent again within the bound + one sweep.
    assert settings.REDISPATCH_STALE_ATTEMPT_SECONDS + settings.SWEEP_INTERVAL_SECONDS < 180
    stale = settings.REDISPATCH_STALE_ATTEMPT_SECONDS
    died = order_create().payments.get()
    Payment.objects.filter(pk=died.pk).update(
        created_at=_past(stale + 60), attempts=1, last_attempt_at=_past(stale + 5)
    )
    running = order_create().payments.get()  # within the hard time limit: may still run
    Payment.objects.filter(pk=running.pk).update(
        created_at=_past(stale + 60), attempts=1, last_attempt_at=_past(stale - 20)
    )
    waiting = order_create().payments.get()  # a retry is scheduled in the future
    Payment.objects.filter(pk=waiting.pk).update(
        created_at=_past(3600),
        attempts=3,
        last_attempt_at=_past(stale + 300),
        next_attempt_at=timezone.now() + timedelta(seconds=200),
    )
    missed = order_create().payments.get()  # its retry is overdue: that message was lost
    Payment.objects.filter(pk=missed.pk).update(
        created_at=_past(3600),
        attempts=2,
        last_attempt_at=_past(400),
        next_attempt_at=_past(settings.REDISPATCH_AFTER_SECONDS + 5),
    )
    with mock.patch("workers.enqueue.publish", return_value=True) as publish:
        payment_work_redispatch()
    args = {call.args[1] for call in publish.call_args_list}
    assert args == {str(died.pk), str(missed.pk)}


def test_work_queued_behind_a_backlog_is_not_published_again(settings: Any) -> None:
    """The payments queue's oldest message waited 300 s: a payment created 120 s ago may
    still be in it; one created 400 s ago is not (FIFO), so only that one is sent."""
    queued = order_create().payments.get()
    Payment.objects.filter(pk=queued.pk).update(created_at=_past(120))
    lost = order_create().payments.get()
    Payment.objects.filter(pk=lost.pk).update(created_at=_past(400))
    died = order_create().payments.get()  # an attempt that died is not in the queue
    Payment.objects.filter(pk=died.pk).update(
        created_at=_past(130),
        attempts=1,
        last_attempt_at=_past(settings.REDISPATCH_STALE_ATTEMPT_SECONDS + 5),
    )
    with (
        mock.patch("apps.ops.services.queue_backlog_seconds", return_value=300.0) as backlog,
        mock.patch("workers.enqueue.publish", return_value=True) as publish,
    ):
        payment_work_redispatch()
    assert backlog.call_args.args == ("payments",)
    assert {call.args[1] for call in publish.call_args_list} == {str(lost.pk), str(died.pk)}

    # The backlog age cannot be read (e.g. a transport that does not say): only rows
    # overdue by the guard are sent.
    with (
        mock.patch("apps.ops.services.queue_backlog_seconds", return_value=None),
        mock.patch("workers.enqueue.publish", return_value=True) as publish,
    ):
        payment_work_redispatch()
    sent = {call.args[1] for call in publish.call_args_list}
    assert settings.REDISPATCH_BACKLOG_GUARD_SECONDS > 400
    assert sent == {str(died.pk)}
