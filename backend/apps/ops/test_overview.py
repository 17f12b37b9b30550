"""GET /api/v1/ops/overview/: staff only, counts of stuck work, and broker parts that say
``unavailable`` (never hang) when the broker or the workers cannot be reached."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_celery_results.models import TaskResult
from rest_framework.test import APIClient

from apps.notifications.models import EmailLog
from apps.ops import broker, services
from apps.ops.factories import order_make, payment_make, task_result_make, variant_make
from apps.ops.models import QueueSample
from apps.ops.tasks import worker_probe_complete_task
from apps.orders.models import Order
from apps.payments.models import Payment, WebhookEvent
from workers.enqueue import publish

URL = "/api/v1/ops/overview/"
pytestmark = pytest.mark.django_db


def test_anonymous_gets_401_and_customer_403(
    api_client: APIClient, customer_client: APIClient
) -> None:
    anonymous = api_client.get(URL)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "not_authenticated"
    customer = customer_client.get(URL)
    assert customer.status_code == 403
    assert customer.json()["error"] == "permission_denied"


def test_overview_counts_stuck_work_and_recent_task_outcomes(staff_client: APIClient) -> None:
    payment_make(status=Payment.Status.PENDING, age=timedelta(minutes=30))  # stuck
    payment_make(status=Payment.Status.REQUIRES_ACTION, age=timedelta(minutes=11))  # stuck
    payment_make(status=Payment.Status.PENDING, age=timedelta(minutes=2))  # fresh
    payment_make(status=Payment.Status.CAPTURED, age=timedelta(hours=2))  # done
    for status, event_id in [
        ("received", "a"),
        ("failed", "b"),
        ("failed", "c"),
        ("processed", "d"),
    ]:
        WebhookEvent.objects.create(
            provider="sandbox",
            event_id=event_id,
            type="payment.succeeded",
            payload={},
            status=status,
        )
    order = order_make()
    old = EmailLog.objects.create(order=order, kind="order_confirmation", recipient="a@b.c")
    EmailLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=20))
    EmailLog.objects.create(order=order, kind="payment_failed", recipient="a@b.c")  # fresh
    name = "apps.ops.tasks.worker_probe_complete_task"
    task_result_make(name=name, status="SUCCESS")
    task_result_make(name=name, status="SUCCESS")
    task_result_make(name=name, status="FAILURE")
    task_result_make(name=name, status="FAILURE", created=timezone.now() - timedelta(hours=2))
    run = uuid.uuid4()
    services.stock_drifts_record(
        run_id=run,
        drifts=[{"variant_id": variant_make("DRIFT-1").pk, "on_hand": 7, "ledger_sum": 5}],
    )

    response = staff_client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["payments"] == {"stuck": 2, "threshold_minutes": 10}
    assert body["webhook_events"] == {"unprocessed": 3, "received": 1, "failed": 2}
    assert body["emails"] == {"queued_stale": 1, "threshold_minutes": 10}
    assert body["tasks_last_hour"]["by_state"] == {"FAILURE": 1, "SUCCESS": 2}
    assert {"name": name, "state": "SUCCESS", "count": 2} in body["tasks_last_hour"]["items"]
    drifts = body["stock_drifts"]
    assert drifts["last_run_id"] == str(run)
    assert drifts["count"] == 1
    assert drifts["unresolved"] == 1
    assert drifts["items"][0]["sku"] == "DRIFT-1"
    assert drifts["items"][0]["difference"] == 2
    assert body["queue_history"]["queues"] == ["default", "payments", "emails", "maintenance"]


def test_overview_in_eager_mode_says_there_is_no_broker(staff_client: APIClient) -> None:
    body = staff_client.get(URL).json()
    assert body["queues"]["status"] == "unavailable"
    assert "CELERY_TASK_ALWAYS_EAGER" in body["queues"]["reason"]
    assert body["workers"]["status"] == "unavailable"


def test_overview_reads_queue_depths_from_the_broker(
    staff_client: APIClient, memory_broker: Callable[[str], int]
) -> None:
    for n in range(3):
        assert publish(worker_probe_complete_task, f"probe-{n}", queue="maintenance")
    assert memory_broker("maintenance") == 3

    body = staff_client.get(URL).json()

    assert body["queues"]["status"] == "ok"
    depths = {item["name"]: item["depth"] for item in body["queues"]["items"]}
    assert depths == {"default": 0, "payments": 0, "emails": 0, "maintenance": 3}
    maintenance = next(i for i in body["queues"]["items"] if i["name"] == "maintenance")
    assert maintenance["oldest_age_seconds"] is None
    assert "memory transport" in maintenance["oldest_age_reason"]
    # The broker answers, but nobody consumes: no worker replies to the broadcast.
    assert body["workers"] == {"status": "unavailable", "reason": "no worker answered within 0.3 s"}


def test_overview_lists_workers_with_their_queues(
    staff_client: APIClient, memory_broker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    replies = {"celery@w1": ["default", "emails"], "celery@w2": ["payments"]}
    monkeypatch.setattr(broker, "read_active_queues", lambda conn, timeout: replies)

    body = staff_client.get(URL).json()

    assert body["workers"] == {
        "status": "ok",
        "items": [
            {"name": "celery@w1", "queues": ["default", "emails"]},
            {"name": "celery@w2", "queues": ["payments"]},
        ],
    }


def test_overview_answers_within_3s_when_the_broker_is_down(
    staff_client: APIClient, broker_down: str
) -> None:
    payment_make(status=Payment.Status.PENDING, age=timedelta(hours=1))
    started = time.monotonic()
    response = staff_client.get(URL)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed < 3
    body = response.json()
    assert body["queues"]["status"] == "unavailable"
    assert "127.0.0.1:1" in body["queues"]["reason"]
    assert body["workers"]["status"] == "unavailable"
    assert body["payments"]["stuck"] == 1  # the database part is still answered


def test_overview_gives_up_on_a_broker_that_never_answers(
    staff_client: APIClient,
    memory_broker: Any,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    request: pytest.FixtureRequest,
) -> None:
    settings.OPS_BROKER_TIMEOUT_SECONDS = 0.5
    released = threading.Event()  # a broker that answers only when the test is over
    request.addfinalizer(released.set)

    def hang(*args: Any, **kwargs: Any) -> None:
        released.wait(timeout=30)

    monkeypatch.setattr(broker, "read_queue_stats", hang)
    monkeypatch.setattr(broker, "read_active_queues", hang)
    started = time.monotonic()
    response = staff_client.get(URL)

    assert time.monotonic() - started < 3
    body = response.json()
    assert body["queues"] == {
        "status": "unavailable",
        "reason": "no answer from the broker within 1.5 s",
    }
    assert body["workers"]["status"] == "unavailable"


def test_overview_includes_the_last_hour_of_queue_samples(staff_client: APIClient) -> None:
    now = timezone.now()
    QueueSample.objects.create(queue="emails", depth=4, sampled_at=now - timedelta(minutes=5))
    QueueSample.objects.create(queue="emails", depth=9, sampled_at=now - timedelta(minutes=1))
    QueueSample.objects.create(queue="emails", depth=50, sampled_at=now - timedelta(hours=3))

    series = staff_client.get(URL).json()["queue_history"]["series"]

    assert [point["depth"] for point in series["emails"]] == [4, 9]


def test_overview_works_with_the_admin_session(staff: Any) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff)
    response = client.get(URL)
    assert response.status_code == 200
    assert "queues" in response.json()


def test_overview_query_count_is_fixed(
    staff_client: APIClient, django_assert_max_num_queries: Any
) -> None:
    for minutes in (20, 30, 40):
        payment_make(status=Payment.Status.PENDING, age=timedelta(minutes=minutes))
        task_result_make(status="FAILURE")
    with django_assert_max_num_queries(14):
        assert staff_client.get(URL).status_code == 200


def test_activity_gives_per_minute_series_of_the_last_hour(staff_client: APIClient) -> None:
    now = timezone.now()
    for minutes_ago in (0, 59, 61):  # the last one is outside the window
        order = order_make()
        Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(minutes=minutes_ago))
    done = task_result_make(status="SUCCESS")
    TaskResult.objects.filter(pk=done.pk).update(date_done=now - timedelta(minutes=2))
    task_result_make(status="FAILURE")
    QueueSample.objects.create(queue="emails", depth=3, sampled_at=now - timedelta(minutes=10))
    QueueSample.objects.create(queue="emails", depth=9, sampled_at=now - timedelta(minutes=70))

    activity = staff_client.get(URL).json()["activity"]
    assert activity["window_minutes"] == 60
    checkouts = activity["checkouts"]
    assert len(checkouts) == 60
    assert (checkouts[0], checkouts[-1], sum(checkouts)) == (1, 1, 2)
    tasks = activity["task_outcomes"]
    assert set(tasks) == {"SUCCESS", "FAILURE", "RETRY"}
    assert tasks["SUCCESS"][-3] == 1
    assert tasks["FAILURE"][-1] == 1
    assert sum(tasks["RETRY"]) == 0
    emails = activity["queue_depth"]["emails"]
    assert emails[-11] == 3
    assert [v for v in emails if v is not None] == [3]


def test_eagerly_run_tasks_show_in_the_outcomes_when_their_results_are_stored(
    staff_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded default stores eager results (dev settings), so /ops/ is not empty."""
    # Read from CELERY_TASK_STORE_EAGER_RESULT when the task class is bound.
    monkeypatch.setattr(worker_probe_complete_task, "store_eager_result", True)
    probe = services.worker_probe_create(queue="default")
    worker_probe_complete_task.apply(args=(str(probe.pk),), task_id=str(uuid.uuid4()))
    body = staff_client.get(URL).json()
    names = {(i["name"], i["state"]) for i in body["tasks_last_hour"]["items"]}
    assert ("apps.ops.tasks.worker_probe_complete_task", "SUCCESS") in names
    assert sum(body["activity"]["task_outcomes"]["SUCCESS"]) >= 1
