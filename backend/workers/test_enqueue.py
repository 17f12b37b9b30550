"""enqueue_on_commit: publish after commit only, never on rollback, never raise."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import transaction
from kombu.exceptions import OperationalError

from apps.ops.models import WorkerProbe
from apps.ops.tasks import worker_probe_complete_task
from workers import enqueue
from workers.base import BaseTask
from workers.celery import app


def test_base_task_is_late_acked_and_retries_with_jitter() -> None:
    assert BaseTask.acks_late is True
    assert BaseTask.reject_on_worker_lost is True
    assert BaseTask.retry_jitter is True
    assert BaseTask.retry_backoff
    assert 0 < BaseTask.max_retries <= 10
    assert worker_probe_complete_task.acks_late is True


def test_celery_is_configured_from_django_settings() -> None:
    conf = app.conf
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_acks_late is True
    assert conf.result_extended is True
    assert conf.task_track_started is False  # one result write per task, not two
    assert conf.get("CELERY_DB_REUSE_MAX") >= 100  # connections outlive a task
    queues = {"default", "payments", "emails", "maintenance", "webhooks"}
    assert {q.name for q in conf.task_queues} == queues
    route = app.amqp.router.route({}, "apps.payments.tasks.payment_capture_task")
    assert route["queue"].name == "payments"
    assert conf.broker_transport_options["visibility_timeout"] > BaseTask.retry_backoff_max


@pytest.mark.django_db(transaction=True)
def test_task_is_sent_only_after_commit_and_not_on_rollback() -> None:
    sent: list[tuple[Any, ...]] = []
    with mock.patch.object(enqueue, "publish", side_effect=lambda t, *ids, **kw: sent.append(ids)):
        with transaction.atomic():
            enqueue.enqueue_on_commit(worker_probe_complete_task, "a")
            assert sent == []
        assert sent == [("a",)]
        with pytest.raises(RuntimeError), transaction.atomic():
            enqueue.enqueue_on_commit(worker_probe_complete_task, "b")
            raise RuntimeError("rolled back")
    assert sent == [("a",)]


def test_publish_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with mock.patch.object(
        worker_probe_complete_task, "apply_async", side_effect=OperationalError("broker down")
    ):
        assert enqueue.publish(worker_probe_complete_task, "x") is False
    assert "re-dispatch sweep" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_probe_round_trip_runs_the_task_after_commit(staff_client: Any) -> None:
    response = staff_client.post("/api/v1/ops/probes/", {"queue": "emails"}, format="json")
    assert response.status_code == 201
    probe = WorkerProbe.objects.get(pk=response.json()["id"])
    assert probe.completed_at is not None  # eager mode: ran right after commit
    assert probe.queue == "emails"


@pytest.mark.django_db
def test_probe_is_staff_only(customer_client: Any, api_client: Any) -> None:
    assert customer_client.post("/api/v1/ops/probes/", {}, format="json").status_code == 403
    assert api_client.post("/api/v1/ops/probes/", {}, format="json").status_code == 401
    assert not WorkerProbe.objects.exists()
