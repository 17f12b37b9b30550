"""Low-level broker reads for ops: short-timeout connections, queue stats, worker replies.

Every call here is bounded twice: the sockets have short timeouts, and
``bounded()`` gives up on the whole call after a deadline, so an unreachable
broker makes a monitoring request slower by at most that deadline, never hang.
The public functions built on these live in ``apps.ops.services``.

Also here: the ``before_task_publish`` hook that stamps each message with a
``sent_at`` header (the age of a queue's oldest message is read from it), and
can tell the caller which task id a publish produced.
What does not belong here: database reads or writes.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypedDict, TypeVar

from django.conf import settings
from kombu import Connection

T = TypeVar("T")

SENT_AT_HEADER = "sent_at"

# Broker calls run here so a deadline can be enforced on calls that block in C
# or retry inside a library. Socket timeouts make every call end eventually.
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ops-broker")
_published_ids: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "ops_published_ids", default=None
)


class BrokerUnavailable(Exception):
    """The broker (or the workers behind it) could not be asked in time."""


class QueueStat(TypedDict):
    depth: int
    oldest_age_seconds: float | None
    oldest_age_reason: str | None


def broker_timeout() -> float:
    return settings.OPS_BROKER_TIMEOUT_SECONDS


def reason_of(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def bounded(fn: Callable[[], T], *, deadline: float) -> T:
    """Run ``fn`` with a wall-clock deadline; ``BrokerUnavailable`` when it is exceeded."""
    future = _executor.submit(fn)
    try:
        return future.result(timeout=deadline)
    except FutureTimeout as exc:
        future.cancel()
        raise BrokerUnavailable(f"no answer from the broker within {deadline:g} s") from exc


def bounded_all(
    calls: dict[str, Callable[[], Any]], *, deadline: float
) -> dict[str, Any | BaseException]:
    """Run several calls at once under one deadline; each value is a result or its error."""
    return bounded_start(calls, deadline=deadline)()


def bounded_start(
    calls: dict[str, Callable[[], Any]], *, deadline: float, label: str = "the broker"
) -> Callable[[], dict[str, Any | BaseException]]:
    """Start several calls now; the returned function collects them (``bounded_all``),
    waiting no longer than ``deadline`` from now."""
    futures = {name: _executor.submit(fn) for name, fn in calls.items()}
    ends_at = time.monotonic() + deadline

    def collect() -> dict[str, Any | BaseException]:
        results: dict[str, Any | BaseException] = {}
        for name, future in futures.items():
            try:
                results[name] = future.result(timeout=max(0.0, ends_at - time.monotonic()))
            except FutureTimeout:
                future.cancel()
                results[name] = BrokerUnavailable(f"no answer from {label} within {deadline:g} s")
            except Exception as exc:
                results[name] = exc
        return results

    return collect


def celery_app() -> Any:
    from workers.celery import app

    return app


def eager_reason() -> str | None:
    """Why there is no broker to ask, or None when tasks go through a broker."""
    if celery_app().conf.task_always_eager:
        return "tasks run eagerly in the web process (CELERY_TASK_ALWAYS_EAGER): no broker queue"
    return None


def queue_names() -> list[str]:
    queues = celery_app().conf.task_queues or []
    names = [str(queue.name) for queue in queues]
    return names or [str(celery_app().conf.task_default_queue)]


@contextlib.contextmanager
def connection(timeout: float) -> Iterator[Connection]:
    """A fresh connection to the Celery app's broker with short socket timeouts, no retries."""
    app = celery_app()
    options = dict(app.conf.broker_transport_options or {})
    options.update({"socket_connect_timeout": timeout, "socket_timeout": timeout, "max_retries": 0})
    conn = app.connection_for_read(connect_timeout=timeout, transport_options=options)
    try:
        conn.ensure_connection(max_retries=0, timeout=timeout)
        yield conn
    finally:
        conn.release()


def read_queue_stats(conn: Connection, queues: list[str]) -> dict[str, QueueStat]:
    """Depth (and the age of the oldest message where readable) of each queue."""
    channel: Any = conn.default_channel
    if conn.transport.driver_type == "redis":
        return _redis_queue_stats(channel, queues)
    stats: dict[str, QueueStat] = {}
    for queue in queues:
        size = getattr(channel, "_size", None)
        if size is not None:
            depth = int(size(queue))
        else:
            depth = int(channel.queue_declare(queue=queue, passive=True).message_count)
        reason = f"not readable from the {conn.transport.driver_type} transport"
        stats[queue] = {"depth": depth, "oldest_age_seconds": None, "oldest_age_reason": reason}
    return stats


def _redis_queue_stats(channel: Any, queues: list[str]) -> dict[str, QueueStat]:
    """One pipeline: LLEN and the list tail (the oldest message) of every priority key.

    Kombu LPUSHes a message onto ``<queue>`` (or ``<queue><sep><priority>``) and
    workers pop from the right, so index -1 is the next message to be taken.
    """
    keys = {
        queue: [channel._q_for_pri(queue, pri) for pri in channel.priority_steps]
        for queue in queues
    }
    with channel.client.pipeline(transaction=False) as pipe:
        for queue in queues:
            for key in keys[queue]:
                pipe.llen(key)
                pipe.lindex(key, -1)
        replies = pipe.execute()
    now = time.time()
    stats: dict[str, QueueStat] = {}
    position = 0
    for queue in queues:
        depth = 0
        tails: list[bytes] = []
        for _ in keys[queue]:
            length, tail = replies[position], replies[position + 1]
            position += 2
            depth += int(length or 0)
            if tail:
                tails.append(tail)
        age, reason = oldest_age(tails, now=now)
        stats[queue] = {"depth": depth, "oldest_age_seconds": age, "oldest_age_reason": reason}
    return stats


def oldest_age(raw_messages: list[bytes], *, now: float) -> tuple[float | None, str | None]:
    """The age in seconds of the oldest of these raw Redis messages, or None and why."""
    if not raw_messages:
        return None, "queue is empty"
    sent: list[float] = []
    for raw in raw_messages:
        try:
            message = json.loads(raw)
            value = message.get("headers", {}).get(SENT_AT_HEADER)
            if value is not None:
                sent.append(float(value))
        except (ValueError, TypeError, AttributeError):
            continue
    if not sent:
        return None, f"the oldest message carries no {SENT_AT_HEADER} header"
    return round(max(0.0, now - min(sent)), 3), None


def read_active_queues(conn: Connection, timeout: float) -> dict[str, list[str]] | None:
    """Each worker that answered within ``timeout`` and the queues it consumes."""
    replies = celery_app().control.inspect(timeout=timeout, connection=conn).active_queues()
    if not replies:
        return None
    return {
        str(worker): sorted(str(queue.get("name")) for queue in queues or [])
        for worker, queues in sorted(replies.items())
    }


# --- Publish hook -----------------------------------------------------------------


def stamp_sent_at(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """``before_task_publish``: record when a message was sent, and its id if asked."""
    if headers is None:
        return
    headers.setdefault(SENT_AT_HEADER, time.time())
    captured = _published_ids.get()
    if captured is not None and headers.get("id"):
        captured.append(str(headers["id"]))


@contextlib.contextmanager
def capture_published_ids() -> Iterator[list[str]]:
    """Collect the ids of tasks published (synchronously) inside the block."""
    ids: list[str] = []
    token = _published_ids.set(ids)
    try:
        yield ids
    finally:
        _published_ids.reset(token)
