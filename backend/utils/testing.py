"""Test helpers for the shared pieces in ``utils`` (both test tiers use them).

Imported by tests only; never by application code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
import redis

from utils.renderers import JSONRenderer


def count_redis_round_trips(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """From now on, one entry per Redis round trip: a command, or the commands of one
    pipeline (``Redis.execute_command`` and ``Pipeline.execute`` calls)."""
    calls: list[list[str]] = []
    run_command = redis.Redis.execute_command
    run_pipeline = redis.client.Pipeline.execute

    def execute_command(self: redis.Redis, *args: Any, **options: Any) -> Any:
        calls.append([str(args[0]).upper()])
        return run_command(self, *args, **options)

    def execute(self: redis.client.Pipeline, *args: Any, **kwargs: Any) -> Any:
        calls.append([str(command[0]).upper() for command, _ in self.command_stack])
        return run_pipeline(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "execute_command", execute_command)
    monkeypatch.setattr(redis.client.Pipeline, "execute", execute)
    return calls


_RENDERER = JSONRenderer()
T = TypeVar("T")


def render_json(data: Any) -> bytes:
    """``data`` as the API's renderer writes it."""
    return bytes(_RENDERER.render(data, "application/json"))


class AnswerSpy:
    """Stands in for a hand-built answer (``apps/*/output.py``) in a view: keeps each answer
    as the builder rendered it and as the serializer would have (``record``), so that a test
    can check the two agree byte for byte and are what the client received."""

    def __init__(self) -> None:
        self.answers: list[tuple[bytes, bytes]] = []

    def record(self, built: T, serialized: bytes) -> T:
        self.answers.append((render_json(built), serialized))
        return built

    def check(self, response: Any, status: int = 200) -> dict[str, Any]:
        """The answer is the serializer's bytes, and it is what the client received."""
        assert response.status_code == status, response.content
        built, serialized = self.answers[-1]
        assert built == serialized
        assert response.content == serialized
        body: dict[str, Any] = response.json()
        return body


S = TypeVar("S", bound=AnswerSpy)


def answer_spy_installed(
    spy: S, monkeypatch: pytest.MonkeyPatch, module: Any, name: str
) -> Iterator[S]:
    """A fixture's body: ``spy`` stands in for the builder ``module.name`` during the test,
    which must have let it compare at least one answer."""
    monkeypatch.setattr(module, name, spy)
    yield spy
    assert spy.answers, f"no {name} answer was compared"
