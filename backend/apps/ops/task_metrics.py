"""Celery task metrics, counted by the process that runs the task (a worker, or the web
process when tasks run eagerly).

Counters of tasks started, succeeded, failed and retried by task name, a run time
histogram, and each worker's last-seen time. They live in prometheus-client's default
registry, so ``/metrics`` exports them with the HTTP metrics. With several processes
(gunicorn workers and Celery's prefork children) they must share one
``PROMETHEUS_MULTIPROC_DIR``, as the ``Procfile`` arranges: the scrape, served by any
web process, then sums every process' files, the worker's included.

The handlers are connected once, in ``OpsConfig.ready()``. A metrics failure is logged
and never fails the task (telemetry never fails a task).
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

logger = logging.getLogger(__name__)

TASKS_STARTED = Counter(
    "storefront_celery_tasks_started", "Celery tasks started, by task name.", ["task"]
)
TASKS_SUCCEEDED = Counter(
    "storefront_celery_tasks_succeeded", "Celery tasks that returned, by task name.", ["task"]
)
TASKS_FAILED = Counter(
    "storefront_celery_tasks_failed",
    "Celery tasks that raised and will not be retried, by task name.",
    ["task"],
)
TASKS_RETRIED = Counter(
    "storefront_celery_tasks_retried", "Celery task retries scheduled, by task name.", ["task"]
)
TASK_RUNTIME = Histogram(
    "storefront_celery_task_runtime_seconds",
    "Time a Celery task ran, from start to its outcome, by task name.",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
WORKER_LAST_SEEN = Gauge(
    "storefront_celery_worker_last_seen_timestamp_seconds",
    "Unix time a worker process last started or finished a task (or came up), by host.",
    ["worker"],
    multiprocess_mode="max",
)

_started: dict[str, float] = {}
_HOST = socket.gethostname()


def _name(sender: Any, task: Any = None) -> str:
    source = task if task is not None else sender
    return str(getattr(source, "name", None) or source or "unknown")


def _hostname(task: Any) -> str:
    request = getattr(task, "request", None)
    host = getattr(request, "hostname", None)
    return str(host or _HOST)


def _seen(task: Any = None) -> None:
    WORKER_LAST_SEEN.labels(_hostname(task)).set(time.time())


def on_prerun(sender: Any = None, task_id: str = "", task: Any = None, **_: Any) -> None:
    try:
        _started[task_id] = time.perf_counter()
        TASKS_STARTED.labels(_name(sender, task)).inc()
        _seen(task)
    except Exception:
        logger.warning("could not record a task start", exc_info=True)


def on_postrun(sender: Any = None, task_id: str = "", task: Any = None, **_: Any) -> None:
    try:
        started = _started.pop(task_id, None)
        if started is not None:
            TASK_RUNTIME.labels(_name(sender, task)).observe(time.perf_counter() - started)
        _seen(task)
    except Exception:
        logger.warning("could not record a task run time", exc_info=True)


def _count(counter: Counter, sender: Any, what: str) -> None:
    try:
        counter.labels(_name(sender)).inc()
    except Exception:
        logger.warning("could not record a task %s", what, exc_info=True)


def on_success(sender: Any = None, **_: Any) -> None:
    _count(TASKS_SUCCEEDED, sender, "success")


def on_failure(sender: Any = None, **_: Any) -> None:
    _count(TASKS_FAILED, sender, "failure")


def on_retry(sender: Any = None, **_: Any) -> None:
    _count(TASKS_RETRIED, sender, "retry")


def on_worker_ready(sender: Any = None, **_: Any) -> None:
    try:
        host = getattr(sender, "hostname", None) or _HOST
        WORKER_LAST_SEEN.labels(str(host)).set(time.time())
    except Exception:
        logger.warning("could not record a worker start", exc_info=True)


def connect() -> None:
    """Connect the handlers to Celery's signals (idempotent: fixed dispatch uids)."""
    from celery import signals

    for signal, handler in (
        (signals.task_prerun, on_prerun),
        (signals.task_postrun, on_postrun),
        (signals.task_success, on_success),
        (signals.task_failure, on_failure),
        (signals.task_retry, on_retry),
        (signals.worker_ready, on_worker_ready),
    ):
        signal.connect(handler, weak=False, dispatch_uid=f"ops-metrics-{handler.__name__}")
