"""Fixtures for ops tests: a broker to point at (row factories are in ``testing.py``).

``memory_broker`` sends tasks through kombu's in-process memory transport (not
eagerly), so a test can count what was published; ``broker_down`` points the
Celery app at a closed port.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from workers.celery import app

CLOSED_BROKER = "redis://127.0.0.1:1/0"


def _purge_memory_queues() -> None:
    with app.connection_for_read("memory://") as conn:
        channel: Any = conn.default_channel
        for queue in ("default", "payments", "emails", "maintenance"):
            channel.queue_purge(queue)


@pytest.fixture
def memory_broker(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[Callable[[str], int]]:
    """Publish for real (to memory://); yields a function giving a queue's depth."""
    settings.OPS_BROKER_TIMEOUT_SECONDS = 0.3
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setitem(app.conf, "broker_url", "memory://")
    _purge_memory_queues()

    def depth(queue: str) -> int:
        with app.connection_for_read() as conn:
            channel: Any = conn.default_channel
            return int(channel._size(queue))

    yield depth
    _purge_memory_queues()


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch, settings: Any) -> str:
    settings.OPS_BROKER_TIMEOUT_SECONDS = 1.0
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setitem(app.conf, "broker_url", CLOSED_BROKER)
    # Publishing uses the app's producer pool, made once from the broker URL: start
    # a fresh one for this test (the original pools come back afterwards).
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    return CLOSED_BROKER


@pytest.fixture
def promtool() -> str:
    """Prometheus' own checker (Debian's ``prometheus`` package): required under CI."""
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is required in CI (make system-packages)")
        pytest.skip("no promtool (apt-get install prometheus, or make system-packages as root)")
    return path
