"""The daily purge of idempotency keys and task results, and the beat schedule of every sweep."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_celery_results.models import TaskResult

from apps.core.models import IdempotencyRecord
from apps.core.services import expired_rows_purge

pytestmark = pytest.mark.django_db


def _past(seconds: int) -> Any:
    return timezone.now() - timedelta(seconds=seconds)


def test_purge_deletes_old_idempotency_keys_and_expired_task_results() -> None:
    old = IdempotencyRecord.objects.create(owner="user:1", key="old", request_fingerprint="x")
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=_past(25 * 3600))
    IdempotencyRecord.objects.create(owner="user:1", key="new", request_fingerprint="y")
    TaskResult.objects.create(task_id="old-task", status="SUCCESS")
    TaskResult.objects.filter(task_id="old-task").update(date_done=_past(30 * 86400))
    TaskResult.objects.create(task_id="new-task", status="SUCCESS")

    counts = expired_rows_purge()

    assert counts == {"idempotency_keys": 1, "task_results": 1}
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert list(TaskResult.objects.values_list("task_id", flat=True)) == ["new-task"]


def test_beat_schedule_runs_every_sweep_on_the_maintenance_queue() -> None:
    from workers.celery import app

    app.loader.import_default_modules()  # what a worker or beat does at start: autodiscovery
    schedule = app.conf.beat_schedule
    assert set(schedule) == {
        "payment-deadline-sweep",
        "payment-redispatch-sweep",
        "email-redispatch-sweep",
        "webhook-redispatch-sweep",
        "queue-sample",
        "stock-reconcile",
        "purge",
    }
    for entry in schedule.values():
        assert entry["options"]["queue"] == "maintenance"
        assert entry["task"] in app.tasks
        route = app.amqp.router.route({}, entry["task"])
        assert route["queue"].name == "maintenance"  # also when sent by hand (ops retry)
