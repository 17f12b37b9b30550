"""Ops on real Redis: a queue's depth rises while no worker consumes it, the oldest
message's age is read, samples are recorded, and live workers show their queues."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.accounts.factories import jwt_headers
from apps.accounts.models import User
from apps.ops import services
from apps.ops.models import QueueSample, WorkerProbe
from apps.ops.tasks import worker_probe_complete_task
from tests.conftest import Worker, wait_for
from workers.celery import app
from workers.enqueue import publish

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def no_consumer_on(queue: str) -> Iterator[None]:
    """Make sure no running worker takes messages from ``queue`` inside the block.

    Workers started by other tests of the session may consume every queue: ask
    them to stop consuming this one, and to start again afterwards.
    """
    replies = app.control.inspect(timeout=1.0).active_queues() or {}
    hosts = sorted(h for h, qs in replies.items() if any(q["name"] == queue for q in qs))
    if hosts:
        app.control.cancel_consumer(queue, destination=hosts, reply=True, timeout=5)
        time.sleep(1.5)  # let a fetch that was already waiting on the queue return
    try:
        yield
    finally:
        if hosts:
            app.control.add_consumer(queue, destination=hosts, reply=True, timeout=5)


def staff_client() -> APIClient:
    user = User.objects.create_user(email="ops-it@example.com", password="x", is_staff=True)
    client = APIClient()
    client.credentials(**jwt_headers(user))
    return client


def test_queue_depth_rises_while_no_worker_consumes_it() -> None:
    with no_consumer_on("maintenance"):
        before = services.queue_depths()["maintenance"]
        assert isinstance(before, int)
        probes = [WorkerProbe.objects.create(queue="maintenance") for _ in range(3)]
        for probe in probes:
            assert publish(worker_probe_complete_task, str(probe.pk), queue="maintenance")

        after = services.queue_depths()["maintenance"]
        ages = services.queue_oldest_age()

        assert after == before + 3
        assert ages["maintenance"]["age_seconds"] is not None
        assert 0 <= ages["maintenance"]["age_seconds"] < 60
        body = staff_client().get("/api/v1/ops/overview/").json()
        depths = {item["name"]: item["depth"] for item in body["queues"]["items"]}
        assert body["queues"]["status"] == "ok"
        assert depths["maintenance"] == before + 3

        assert services.queue_sample_record() == 5
        sample = QueueSample.objects.get(queue="maintenance")
        assert sample.depth == before + 3


def test_live_workers_answer_with_the_queues_they_consume(
    worker_factory: Callable[..., Worker],
) -> None:
    worker = worker_factory(queues="emails,payments", concurrency=1)
    status = wait_for(lambda: _worker_named(worker), timeout=20, interval=0.5)
    assert status["queues"] == ["emails", "payments"]


def _worker_named(worker: Worker) -> Any:
    name = f"it-{os.getpid()}-{id(worker)}@"  # the -n the worker fixture starts it with
    alive = services.workers_alive(timeout=1.0)
    return next((item for item in alive["workers"] if item["name"].startswith(name)), None)


def test_overview_answers_fast_when_the_broker_is_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    started = time.monotonic()
    response = staff_client().get("/api/v1/ops/overview/")
    assert time.monotonic() - started < 3
    assert response.status_code == 200
    body = response.json()
    assert body["queues"]["status"] == "unavailable"
    assert body["workers"]["status"] == "unavailable"
    assert body["payments"] == {"stuck": 0, "threshold_minutes": 10}  # the database answers
