"""Fixtures for webhook tests: a receiver on 127.0.0.1, endpoints, and the tasks published."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from apps.integrations.factories import WebhookEndpointFactory
from apps.integrations.models import WebhookEndpoint
from apps.integrations.testing import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(secret="whsec_receiver").start()
    yield server
    server.stop()


@pytest.fixture
def make_endpoint(db: None) -> Callable[..., WebhookEndpoint]:
    def make(**fields: Any) -> WebhookEndpoint:
        return WebhookEndpointFactory.create(**fields)

    return make


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...], Any]]:
    """Tasks published on commit, as (task name, args, countdown); nothing is run."""
    sent: list[tuple[str, tuple[Any, ...], Any]] = []

    def record(task: Any, *ids: Any, countdown: Any = None, **options: Any) -> bool:
        sent.append((task.name, ids, countdown))
        return True

    monkeypatch.setattr("workers.enqueue.publish", record)
    return sent
