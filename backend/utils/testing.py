"""Test helpers for the shared pieces in ``utils`` (both test tiers use them).

Imported by tests only; never by application code.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis


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
