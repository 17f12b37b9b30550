"""Sweeps: deadline cancellation, re-dispatch of lost work, stock reconciliation, purges."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone
from django_celery_results.models import TaskResult

from apps.catalog.models import Stock, StockMovement
from apps.catalog.testing import make_product, make_variant
from apps.core.models import IdempotencyRecord
from apps.notifications.models import EmailLog
from apps.ops.models import StockDrift
from apps.orders.models import Order
from apps.payments.models import Payment, WebhookEvent
from apps.payments.testing import order_create
from workers import schedules

pytestmark = pytest.mark.django_db


def _past(seconds: int) -> Any:
    return timezone.now() - timedelta(seconds=seconds)


def test_deadline_sweep_cancels_expired_orders_and_releases_stock() -> None:
    order = order_create()
    variant_ids = [line.variant_id for line in order.lines.all()]
    before = {s.variant_id: s.on_hand for s in Stock.objects.filter(variant_id__in=variant_ids)}
    fresh = order_create()
    Order.objects.filter(pk=order.pk).update(payment_deadline=_past(1))

    with mock.patch("workers.enqueue.publish"):
        cancelled = schedules.deadline_sweep()

    assert cancelled == [str(order.pk)]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    after = {s.variant_id: s.on_hand for s in Stock.objects.filter(variant_id__in=variant_ids)}
    for line in order.lines.all():
        assert after[line.variant_id] == before[line.variant_id] + line.quantity
    assert StockMovement.objects.filter(order=order, reason="release").exists()
    assert EmailLog.objects.filter(order=order, kind="order_cancelled").exists()
    assert Order.objects.get(pk=fresh.pk).status == Order.Status.PENDING_PAYMENT
    assert schedules.deadline_sweep() == []  # nothing left: a second run is a no-op


def test_deadline_sweep_is_bounded_per_run() -> None:
    for _ in range(3):
        order = order_create()
        Order.objects.filter(pk=order.pk).update(payment_deadline=_past(1))
    with mock.patch("workers.enqueue.publish"):
        assert len(schedules.deadline_sweep(limit=2)) == 2
        assert len(schedules.deadline_sweep(limit=2)) == 1


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
    with mock.patch.object(
        schedules, "publish", side_effect=lambda task, arg: sent.append((task.name, arg)) or True
    ):
        counts = schedules.redispatch_sweep()

    assert counts == {"payments": 1, "refunds": 0, "emails": 1, "webhooks": 1}
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
    with mock.patch.object(schedules, "publish", return_value=True) as publish:
        schedules.redispatch_sweep()
    args = [call.args[1] for call in publish.call_args_list]
    assert str(payment.pk) in args
    assert str(retrying.pk) not in args


def test_redispatch_stops_at_the_first_broker_failure_and_loses_nothing() -> None:
    for _ in range(3):
        payment = order_create().payments.get()
        Payment.objects.filter(pk=payment.pk).update(created_at=_past(120))
    with mock.patch.object(schedules, "publish", return_value=False) as publish:
        counts = schedules.redispatch_sweep()
    assert counts["payments"] == 0
    assert publish.call_count == 1  # it stopped instead of hammering a dead broker
    assert Payment.objects.filter(status="pending").count() == 3  # still there for next time


def test_reconciliation_records_drift_without_overwriting_stock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    variant = make_variant(product=make_product(prices=()), stock=10)
    healthy = make_variant(product=make_product(prices=()), stock=4)
    Stock.objects.filter(variant=variant).update(on_hand=7)  # a change that skipped the ledger

    drifts = schedules.stock_reconcile()

    assert [d["variant_id"] for d in drifts] == [variant.pk]
    assert Stock.objects.get(variant=variant).on_hand == 7  # recorded, not "fixed"
    drift = StockDrift.objects.get(resolved=False)
    assert (drift.variant_id, drift.on_hand, drift.ledger_sum) == (variant.pk, 7, 10)
    assert f"variant={variant.pk} on_hand=7 ledger_sum=10" in caplog.text
    assert not StockDrift.objects.filter(variant=healthy).exists()

    Stock.objects.filter(variant=variant).update(on_hand=10)  # someone fixed it
    assert schedules.stock_reconcile() == []
    assert not StockDrift.objects.filter(resolved=False).exists()


def test_purge_deletes_old_idempotency_keys_and_expired_task_results() -> None:
    old = IdempotencyRecord.objects.create(owner="user:1", key="old", request_fingerprint="x")
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=_past(25 * 3600))
    IdempotencyRecord.objects.create(owner="user:1", key="new", request_fingerprint="y")
    TaskResult.objects.create(task_id="old-task", status="SUCCESS")
    TaskResult.objects.filter(task_id="old-task").update(date_done=_past(30 * 86400))
    TaskResult.objects.create(task_id="new-task", status="SUCCESS")

    counts = schedules.purge_sweep()

    assert counts == {"idempotency_keys": 1, "task_results": 1}
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert list(TaskResult.objects.values_list("task_id", flat=True)) == ["new-task"]


def test_beat_schedule_runs_every_sweep_on_the_maintenance_queue() -> None:
    from workers.celery import app

    schedule = app.conf.beat_schedule
    assert set(schedule) == {
        "payment-deadline-sweep",
        "redispatch-sweep",
        "queue-sample",
        "stock-reconcile",
        "purge",
    }
    for entry in schedule.values():
        assert entry["options"]["queue"] == "maintenance"
        assert entry["task"] in app.tasks
