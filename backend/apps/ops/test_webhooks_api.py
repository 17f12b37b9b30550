"""Webhook events (list, replay) and stuck payments, for staff only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.ops import services
from apps.ops.factories import memory_messages, order_make, payment_make
from apps.orders.models import Order
from apps.payments.models import Payment, WebhookEvent

URL = "/api/v1/ops/webhooks/"
STUCK_URL = "/api/v1/ops/payments/stuck/"
pytestmark = pytest.mark.django_db


class RecordingTask:
    """Stands in for the payments task: records what would have been sent."""

    name = "apps.payments.tasks.webhook_event_process_task"

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def apply_async(self, args: tuple[Any, ...] = (), **options: Any) -> None:
        self.sent.append(tuple(args))


@pytest.fixture
def webhook_task(monkeypatch: pytest.MonkeyPatch) -> RecordingTask:
    task = RecordingTask()
    monkeypatch.setattr(services, "_webhook_process_task", lambda: task)
    return task


def event_make(
    *, status: str = "received", provider: str = "sandbox", event_id: str = "evt_1"
) -> WebhookEvent:
    return WebhookEvent.objects.create(
        provider=provider,
        event_id=event_id,
        type="payment_intent.succeeded",
        payload={"id": event_id, "data": {"amount": 2000}},
        status=status,
        last_error="provider said no" if status == "failed" else "",
    )


def test_webhook_endpoints_need_staff(api_client: APIClient, customer_client: APIClient) -> None:
    event = event_make()
    for client, code in [(api_client, 401), (customer_client, 403)]:
        assert client.get(URL).status_code == code
        assert client.get(STUCK_URL).status_code == code
        assert client.post(f"{URL}{event.pk}/replay/").status_code == code


def test_webhook_list_filters_by_statuses_and_provider(staff_client: APIClient) -> None:
    failed = event_make(status="failed", event_id="evt_f")
    received = event_make(status="received", event_id="evt_r")
    event_make(status="processed", event_id="evt_p")
    event_make(status="failed", provider="stripe", event_id="evt_s")

    body = staff_client.get(URL + "?status=received&status=failed&provider=sandbox").json()

    assert body["count"] == 2
    assert {row["id"] for row in body["results"]} == {failed.pk, received.pk}
    row = next(r for r in body["results"] if r["id"] == failed.pk)
    assert row == {
        "id": failed.pk,
        "provider": "sandbox",
        "event_id": "evt_f",
        "type": "payment_intent.succeeded",
        "status": "failed",
        "attempts": 0,
        "last_error": "provider said no",
        "received_at": row["received_at"],
        "processed_at": None,
    }
    detail = staff_client.get(f"{URL}{failed.pk}/").json()
    assert detail["payload"] == {"id": "evt_f", "data": {"amount": 2000}}
    bad = staff_client.get(URL, {"status": "lost"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "validation_error"


# A failed event goes back to received; a processed one keeps its status. Either is sent
# again, after commit.
@pytest.mark.parametrize(("status", "after"), [("failed", "received"), ("processed", "processed")])
def test_replay_sends_the_event_again_after_commit(
    staff_client: APIClient,
    webhook_task: RecordingTask,
    django_capture_on_commit_callbacks: Any,
    status: str,
    after: str,
) -> None:
    event = event_make(status=status)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"{URL}{event.pk}/replay/")

    assert response.status_code == 202
    assert response.json()["status"] == after
    event.refresh_from_db()
    assert event.status == after
    assert webhook_task.sent == [(event.pk,)]


def test_replay_sends_the_payments_task_to_the_payments_queue(
    staff_client: APIClient,
    memory_broker: Callable[[str], int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    event = event_make(status="failed")
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_client.post(f"{URL}{event.pk}/replay/").status_code == 202
    (message,) = memory_messages("payments")
    assert message["headers"]["task"] == "apps.payments.tasks.webhook_event_process_task"
    assert message["headers"]["argsrepr"] == f"({event.pk},)"


def test_replay_of_an_unknown_event_is_404(
    staff_client: APIClient, webhook_task: RecordingTask
) -> None:
    for pk in ("999999", "abc"):
        response = staff_client.post(f"{URL}{pk}/replay/")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    assert webhook_task.sent == []


def test_replay_without_the_processing_task_is_503_and_changes_nothing(
    staff_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "WEBHOOK_TASK", "apps.payments.tasks.missing_task")
    event = event_make(status="failed")
    response = staff_client.post(f"{URL}{event.pk}/replay/")
    assert response.status_code == 503
    assert response.json()["error"] == "not_available"
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED


def test_stuck_payments_lists_old_waiting_payments_with_their_order(
    staff_client: APIClient,
) -> None:
    stuck = payment_make(status=Payment.Status.PENDING, age=timedelta(minutes=40))
    action = payment_make(
        status=Payment.Status.REQUIRES_ACTION,
        age=timedelta(hours=2),
        last_attempt_age=timedelta(minutes=15),
    )
    provider_down = payment_make(
        status=Payment.Status.FAILED,
        age=timedelta(minutes=30),
        failure_code="provider_unavailable",
        failure_message="sandbox timed out",
        last_attempt_age=timedelta(minutes=20),
    )
    payment_make(status=Payment.Status.PENDING, age=timedelta(minutes=2))  # fresh
    payment_make(  # recently retried: not stuck yet
        status=Payment.Status.PENDING, age=timedelta(hours=1), last_attempt_age=timedelta(minutes=1)
    )
    payment_make(status=Payment.Status.FAILED, age=timedelta(hours=1), failure_code="card_declined")
    payment_make(  # provider was down, but the order is no longer waiting for payment
        order=order_make(status=Order.Status.CANCELLED),
        status=Payment.Status.FAILED,
        age=timedelta(hours=1),
        failure_code="provider_unavailable",
    )
    payment_make(status=Payment.Status.CAPTURED, age=timedelta(hours=1))

    body = staff_client.get(STUCK_URL).json()

    assert body["count"] == 3
    assert [row["id"] for row in body["results"]] == [
        str(stuck.pk),
        str(provider_down.pk),
        str(action.pk),
    ]  # longest waiting first
    row = body["results"][1]
    assert row["order"] == {
        "id": str(provider_down.order.pk),
        "number": provider_down.order.number,
        "status": "pending_payment",
    }
    assert row["last_error"] == {"code": "provider_unavailable", "message": "sandbox timed out"}
    assert row["amount"] == "20.00"
    assert body["results"][0]["last_error"] is None


def test_stuck_threshold_comes_from_settings(staff_client: APIClient, settings: Any) -> None:
    payment_make(status=Payment.Status.PENDING, age=timedelta(minutes=4))
    assert staff_client.get(STUCK_URL).json()["count"] == 0
    settings.OPS_STUCK_PAYMENT_MINUTES = 3
    assert staff_client.get(STUCK_URL).json()["count"] == 1


def test_replay_refuses_a_body_and_changes_nothing(
    staff_client: APIClient, webhook_task: RecordingTask, django_capture_on_commit_callbacks: Any
) -> None:
    event = event_make(status="failed")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"{URL}{event.pk}/replay/", {"force": True}, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED
    assert webhook_task.sent == []
