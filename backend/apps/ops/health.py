"""Liveness and readiness probes: /healthz (process alive), /readyz (dependencies).

``/readyz`` answers within ``READYZ_DEADLINE_SECONDS`` (default 2 s) plus the
database check: the cache and the broker are asked at once, each under that
deadline, and a dependency that does not answer in time is named as down
(``"reason": "timeout"``). It also says whether any worker finished a task lately
(``workers``: the newest task result is older than ``WORKERS_SILENT_AFTER_SECONDS``
means no worker has answered for a while). That check is reported but does not make
the web process unready: a web process without workers still takes orders (their
work waits in the database and the broker).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from utils.errors import require_get


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)


def _check_broker() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # tasks run in-process: there is no broker to reach
    from workers.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def workers_last_seen() -> dict[str, object]:
    """When a worker last finished a task (its result row), and whether that is too long ago."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "reason": "tasks run eagerly in the web process"}
    from django_celery_results.models import TaskResult

    last = TaskResult.objects.order_by("-date_done").values_list("date_done", flat=True).first()
    limit = settings.WORKERS_SILENT_AFTER_SECONDS
    if last is None:
        return {"ok": False, "reason": "no task result yet", "silent_after_seconds": limit}
    silent = max(0.0, (timezone.now() - last).total_seconds())
    return {
        "ok": silent <= limit,
        "last_task_done_at": last.isoformat(),
        "silent_seconds": round(silent, 1),
        "silent_after_seconds": limit,
    }


logger = logging.getLogger(__name__)

CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "cache": _check_cache,
    "broker": _check_broker,
}
# Asked at once, off the request thread, under the deadline (the database is asked on
# the request's own connection).
CONCURRENT = ("cache", "broker")


@never_cache
@require_get
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_get
def readyz(request: HttpRequest) -> JsonResponse:
    from apps.ops.broker import BrokerUnavailable, bounded_all

    deadline = settings.READYZ_DEADLINE_SECONDS
    values = bounded_all(
        {name: _timed(CHECKS[name]) for name in CONCURRENT if name in CHECKS}, deadline=deadline
    )
    for name, check in CHECKS.items():
        if name not in values:
            started = time.monotonic()
            try:
                check()
            except Exception as exc:
                values[name] = exc
            else:
                values[name] = time.monotonic() - started
    results: dict[str, dict[str, object]] = {}
    failed: list[str] = []
    for name in CHECKS:
        value = values[name]
        outcome = value if isinstance(value, BaseException) else None
        elapsed = value if isinstance(value, float) else deadline
        if outcome is None:
            results[name] = {"ok": True}
        else:
            failed.append(name)
            reason = "timeout" if isinstance(outcome, BrokerUnavailable) else type(outcome).__name__
            # Only the exception's class: its text may name internal hosts and users.
            logger.warning("readiness check %s failed: %s: %s", name, reason, outcome)
            results[name] = {"ok": False, "reason": reason}
        results[name]["ms"] = round(elapsed * 1000, 1)
    try:
        workers: dict[str, object] = workers_last_seen()
    except Exception as exc:  # the database is down: already named above
        workers = {"ok": False, "reason": type(exc).__name__}
    if failed:
        details = {"failed": failed, "checks": results, "workers": workers}
        return JsonResponse({"error": "not_ready", "details": details}, status=503)
    return JsonResponse({"status": "ok", "checks": results, "workers": workers})


def _timed(check: Callable[[], None]) -> Callable[[], float]:
    """``check`` returning how long it took (it raises when the dependency is down)."""

    def run() -> float:
        started = time.monotonic()
        check()
        return time.monotonic() - started

    return run
