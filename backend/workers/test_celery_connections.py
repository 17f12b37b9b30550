"""Around each task, old or broken database connections are closed, as around a request.

Except for an eager task (it runs inside its caller's request or transaction) and
while any connection is inside an atomic block: closing it there would break the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from celery import Celery
from celery.app.trace import build_tracer
from celery.signals import task_postrun, task_prerun
from django.db import connection, transaction

from workers.celery import _close_old_connections


@pytest.fixture
def close_old() -> Iterator[mock.MagicMock]:
    # Looked up in django.db at each call, so patching the module attribute is enough.
    with mock.patch("django.db.close_old_connections") as patched:
        yield patched


class _Task:
    """Stands in for a task as a signal's sender (hashable, like a real one)."""

    def __init__(self, *, is_eager: bool) -> None:
        self.request = SimpleNamespace(is_eager=is_eager)


def _task(*, is_eager: bool) -> Any:
    return _Task(is_eager=is_eager)


def test_a_worker_task_closes_old_connections(close_old: mock.MagicMock) -> None:
    _close_old_connections(sender=_task(is_eager=False))
    close_old.assert_called_once_with()


def test_a_signal_without_a_task_closes_old_connections(close_old: mock.MagicMock) -> None:
    _close_old_connections(sender=None)
    _close_old_connections(sender=object())  # no request
    assert close_old.call_count == 2


def test_an_eager_task_leaves_connections_alone(close_old: mock.MagicMock) -> None:
    _close_old_connections(sender=_task(is_eager=True))
    close_old.assert_not_called()


@pytest.mark.django_db(transaction=True)
def test_nothing_is_closed_inside_an_atomic_block(close_old: mock.MagicMock) -> None:
    with transaction.atomic():
        connection.ensure_connection()
        assert connection.in_atomic_block
        _close_old_connections(sender=_task(is_eager=False))
        with transaction.atomic():  # a savepoint: still inside
            _close_old_connections(sender=_task(is_eager=False))
        close_old.assert_not_called()
    assert not connection.in_atomic_block
    _close_old_connections(sender=_task(is_eager=False))
    close_old.assert_called_once_with()


def test_the_handler_is_connected_before_and_after_each_task(close_old: mock.MagicMock) -> None:
    sender = _task(is_eager=False)
    task_prerun.send(sender=sender, task_id="t-1", task=sender, args=(), kwargs={})
    assert close_old.call_count == 1
    task_postrun.send(
        sender=sender, task_id="t-1", task=sender, args=(), kwargs={}, retval=None, state="SUCCESS"
    )
    assert close_old.call_count == 2


@pytest.fixture
def throwaway_app() -> Celery:
    """A separate app (the signals are global): its task does not join the project's."""
    return Celery("connections-test", broker="memory://", set_as_current=False)


def test_a_task_run_by_a_worker_closes_before_and_after(
    throwaway_app: Celery, close_old: mock.MagicMock
) -> None:
    ran: list[bool] = []

    @throwaway_app.task(name="connections_test.run")
    def run() -> str:
        ran.append(bool(run.request.is_eager))
        assert close_old.call_count == 1  # prerun, before the body
        return "ok"

    # What a worker does with a message: the tracer, not eager.
    result = build_tracer(run.name, run, eager=False, app=throwaway_app)(
        "task-1", (), {}, {"id": "task-1"}
    )

    assert result.retval == "ok"
    assert ran == [False]
    assert close_old.call_count == 2  # prerun and postrun


def test_an_eagerly_applied_task_closes_nothing(
    throwaway_app: Celery, close_old: mock.MagicMock
) -> None:
    ran: list[bool] = []

    @throwaway_app.task(name="connections_test.run_eager")
    def run() -> str:
        ran.append(bool(run.request.is_eager))
        return "ok"

    assert run.apply().get() == "ok"
    assert ran == [True]
    close_old.assert_not_called()


def test_the_result_backend_retries_a_lost_connection() -> None:
    from django.db import InterfaceError, OperationalError

    from workers.celery import app
    from workers.results import RetryingDatabaseBackend

    backend = app.backend
    assert isinstance(backend, RetryingDatabaseBackend)
    assert app.conf.result_backend_always_retry is True
    with mock.patch("workers.results.connection") as conn:
        assert backend.exception_safe_to_retry(OperationalError("the connection is closed"))
        assert backend.exception_safe_to_retry(InterfaceError("connection already closed"))
        assert conn.close.call_count == 2
        assert not backend.exception_safe_to_retry(ValueError("a bug"))
