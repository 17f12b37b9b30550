"""Ops services: queue reads (Redis layout via fakeredis), samples, drifts, argument recovery."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest import mock

import fakeredis
import pytest
from django.utils import timezone

from apps.ops import broker, registry, services
from apps.ops.factories import memory_messages, variant_make
from apps.ops.models import QueueSample, StockDrift
from apps.ops.tasks import worker_probe_complete_task
from workers.enqueue import publish

SEP = "\x06\x16"


class FakeRedisChannel:
    """The parts of kombu's Redis channel the queue reader uses, on fakeredis."""

    priority_steps = [0, 3, 6, 9]

    def __init__(self) -> None:
        self.client = fakeredis.FakeRedis()

    def _q_for_pri(self, queue: str, pri: int) -> str:
        return f"{queue}{SEP}{pri}" if pri else queue

    def push(self, key: str, *, sent_at: float | None) -> None:
        headers: dict[str, Any] = {"task": "apps.x", "id": str(uuid.uuid4())}
        if sent_at is not None:
            headers["sent_at"] = sent_at
        self.client.lpush(key, json.dumps({"body": "", "headers": headers, "properties": {}}))


def test_redis_depth_sums_priority_lists_and_age_comes_from_the_oldest_tail() -> None:
    channel = FakeRedisChannel()
    now = time.time()
    channel.push("payments", sent_at=now - 90)  # oldest in the base list (the tail)
    channel.push("payments", sent_at=now - 10)
    channel.push(f"payments{SEP}3", sent_at=now - 30)
    channel.push("emails", sent_at=None)

    with mock.patch.object(broker.time, "time", return_value=now):  # no clock drift under load
        stats = broker._redis_queue_stats(channel, ["payments", "emails", "default"])

    assert stats["payments"]["depth"] == 3
    assert stats["payments"]["oldest_age_seconds"] == pytest.approx(90, abs=2)
    assert stats["emails"] == {
        "depth": 1,
        "oldest_age_seconds": None,
        "oldest_age_reason": "the oldest message carries no sent_at header",
    }
    assert stats["default"] == {
        "depth": 0,
        "oldest_age_seconds": None,
        "oldest_age_reason": "queue is empty",
    }


def test_oldest_age_ignores_messages_it_cannot_parse() -> None:
    now = time.time()
    good = json.dumps({"headers": {"sent_at": now - 5}}).encode()
    assert broker.oldest_age([b"not json", good], now=now) == (5.0, None)


def test_published_messages_carry_sent_at_and_their_id_can_be_captured(
    memory_broker: Callable[[str], int],
) -> None:
    before = time.time()
    with broker.capture_published_ids() as ids:
        assert publish(worker_probe_complete_task, "p1", queue="emails")
    (message,) = memory_messages("emails")
    assert ids == [message["headers"]["id"]]
    assert before <= message["headers"]["sent_at"] <= time.time()


def test_queue_depths_and_oldest_age_when_the_broker_is_down(broker_down: str) -> None:
    depths = services.queue_depths()
    assert set(depths) == {"default", "payments", "emails", "maintenance", "webhooks"}
    assert all("127.0.0.1:1" in value["unavailable"] for value in depths.values())  # type: ignore[index]
    ages = services.queue_oldest_age()
    assert ages["emails"]["age_seconds"] is None
    assert "127.0.0.1:1" in ages["emails"]["reason"]


def test_workers_alive_says_unavailable_when_the_broker_is_down(broker_down: str) -> None:
    started = time.monotonic()
    status = services.workers_alive(timeout=1.0)
    assert time.monotonic() - started < 3
    assert status["status"] == "unavailable"
    assert status["workers"] == []


@pytest.mark.django_db
def test_queue_sample_record_writes_one_row_per_queue_and_purges_a_day_old(
    memory_broker: Callable[[str], int],
) -> None:
    publish(worker_probe_complete_task, "p1", queue="payments")
    publish(worker_probe_complete_task, "p2", queue="payments")
    old = QueueSample.objects.create(
        queue="payments", depth=1, sampled_at=timezone.now() - timedelta(hours=25)
    )

    written = services.queue_sample_record()

    assert written == 5
    assert not QueueSample.objects.filter(pk=old.pk).exists()
    depths = dict(QueueSample.objects.values_list("queue", "depth"))
    assert depths == {"default": 0, "payments": 2, "emails": 0, "maintenance": 0, "webhooks": 0}


@pytest.mark.django_db
def test_queue_sample_record_writes_nothing_when_the_broker_is_down(broker_down: str) -> None:
    assert services.queue_sample_record() == 0
    assert QueueSample.objects.count() == 0


@pytest.mark.django_db
def test_a_new_reconciliation_run_resolves_the_drifts_of_earlier_runs() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    a, b = variant_make("A-1"), variant_make("B-1")
    services.stock_drifts_record(
        run_id=first,
        drifts=[
            {"variant_id": a.pk, "on_hand": 3, "ledger_sum": 4},
            {"variant_id": b.pk, "on_hand": 1, "ledger_sum": 0},
        ],
    )
    services.stock_drifts_record(
        run_id=second, drifts=[{"variant_id": b.pk, "on_hand": 1, "ledger_sum": 0}]
    )

    open_drifts = StockDrift.objects.filter(resolved=False)
    assert [(d.run_id, d.variant_id) for d in open_drifts] == [(second, b.pk)]
    services.stock_drifts_record(run_id=uuid.uuid4(), drifts=[])
    assert not StockDrift.objects.filter(resolved=False).exists()


def test_positional_args_recover_the_original_call() -> None:
    task = worker_probe_complete_task
    assert registry.positional_args(
        task, stored_args=json.dumps("('abc',)"), stored_kwargs=json.dumps("{}")
    ) == ["abc"]
    # keyword arguments are bound back to positions
    assert registry.positional_args(
        task, stored_args=json.dumps("()"), stored_kwargs=json.dumps("{'probe_id': 'xyz'}")
    ) == ["xyz"]


@pytest.mark.parametrize(
    "stored_args",
    [
        json.dumps("([1, 2, 3, ...],)"),  # a list cut short by Celery's saferepr
        json.dumps("('" + "a" * 1100 + "...',)"),  # a string cut short
        json.dumps("(UUID('0b6b2f0e-2a41-4b84-9a57-8e4a6b7a2a11'),)"),  # not a literal
        json.dumps("('a', 'b')"),  # does not fit the signature
    ],
)
def test_positional_args_refuse_what_cannot_be_recovered(stored_args: str) -> None:
    with pytest.raises(registry.ArgumentsUnavailable):
        registry.positional_args(
            worker_probe_complete_task, stored_args=stored_args, stored_kwargs=None
        )


def test_only_project_idempotent_tasks_are_retryable() -> None:
    assert registry.is_retryable("apps.ops.tasks.worker_probe_complete_task")
    assert not registry.is_retryable("celery.backend_cleanup")
    assert not registry.is_retryable("apps.ops.tasks.no_such_task")
    assert not registry.is_retryable("apps.ops;import os")
    assert not registry.is_retryable(None)


def test_queue_backlog_seconds_reads_the_oldest_message_age(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """For the re-dispatch sweeps: 0 when the queue is empty, its oldest message's age,
    or None when that cannot be told (broker down; a transport that does not say)."""
    from apps.ops.broker import BrokerUnavailable

    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(services.broker, "eager_reason", lambda: None)

    def stats(age: float | None, depth: int) -> Any:
        return lambda **_: {
            "payments": {"depth": depth, "oldest_age_seconds": age, "oldest_age_reason": None}
        }

    monkeypatch.setattr(services, "queue_stats", stats(None, 0))
    assert services.queue_backlog_seconds("payments") == 0.0
    monkeypatch.setattr(services, "queue_stats", stats(42.5, 7))
    assert services.queue_backlog_seconds("payments") == 42.5
    monkeypatch.setattr(services, "queue_stats", stats(None, 7))
    assert services.queue_backlog_seconds("payments") is None

    def down(**_: Any) -> Any:
        raise BrokerUnavailable("down")

    monkeypatch.setattr(services, "queue_stats", down)
    assert services.queue_backlog_seconds("payments") is None


def test_a_worker_probe_can_target_every_queue_the_workers_consume() -> None:
    from apps.ops.models import WorkerProbe
    from config.settings.tasks import QUEUE_NAMES

    assert set(WorkerProbe.Queue.values) == set(QUEUE_NAMES)
