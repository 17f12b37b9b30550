"""A task sent from a traced request runs on a real worker under the same trace."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.factories import jwt_headers
from apps.accounts.models import User
from apps.ops.models import WorkerProbe
from config.testing import api_checkout
from tests.conftest import SPANS_FILE, Worker, wait_for
from utils import telemetry

pytestmark = pytest.mark.django_db(transaction=True)


def test_probe_runs_on_a_real_worker_and_shares_the_request_trace(
    celery_worker: Worker,
) -> None:
    telemetry.setup_telemetry("file", force=True)
    staff = User.objects.create_user(email="ops@example.com", password="x", is_staff=True)
    client = APIClient()
    client.credentials(**jwt_headers(staff))

    response = client.post("/api/v1/ops/probes/", {"queue": "payments"}, format="json")
    assert response.status_code == 201, response.content
    request_trace = response.json()["request_trace_id"]
    assert len(request_trace) == 32

    def completed() -> Any:
        probe = WorkerProbe.objects.get(pk=response.json()["id"])
        return probe if probe.completed_at else None

    probe = wait_for(completed, timeout=30)
    assert probe.worker  # a real worker host answered
    assert probe.task_trace_id == request_trace

    def task_span_exported() -> Any:
        if not SPANS_FILE.exists():
            return None
        spans = [json.loads(line) for line in SPANS_FILE.read_text().splitlines() if line]
        return [s for s in spans if s["trace_id"] == request_trace and s["pid"] != _pid()]

    worker_spans = wait_for(task_span_exported, timeout=15)
    assert any("worker_probe_complete_task" in s["name"] for s in worker_spans)


def _pid() -> int:
    import os

    return os.getpid()


def test_checkout_capture_and_email_share_one_trace(celery_worker: Worker) -> None:
    from apps.catalog.factories import make_product, make_variant
    from apps.notifications.models import EmailLog
    from apps.orders.models import Order, OrderEvent

    telemetry.setup_telemetry("file", force=True)
    variant = make_variant(product=make_product(prices=()), stock=5)
    order_id = api_checkout(APIClient(), variant.pk, email="traced@example.com")["id"]
    wait_for(lambda: Order.objects.get(pk=order_id).status == "paid", timeout=30)
    wait_for(lambda: EmailLog.objects.filter(order_id=order_id, status="sent").exists(), timeout=30)

    events = list(OrderEvent.objects.filter(order_id=order_id).order_by("id"))
    request_trace = events[0].trace_id
    assert len(request_trace) == 32
    # The "paid" event was written by the capture task on the worker, in the same trace.
    assert [e.to_status for e in events] == ["pending_payment", "paid"]
    assert {e.trace_id for e in events} == {request_trace}

    def spans_of_trace() -> Any:
        if not SPANS_FILE.exists():
            return None
        spans = [json.loads(line) for line in SPANS_FILE.read_text().splitlines() if line]
        names = {s["name"] for s in spans if s["trace_id"] == request_trace}
        capture = any("payment_capture_task" in n for n in names)
        email = any("order_email_send_task" in n for n in names)
        return names if capture and email else None

    names = wait_for(spans_of_trace, timeout=20)
    assert any(n.startswith("POST") for n in names), names  # the checkout request itself
