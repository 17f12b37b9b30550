"""``enqueue_on_commit()``: the only way project code sends a task.

The task is published after the surrounding transaction commits, so a worker
never sees a row that is not there yet, and nothing is sent for a rollback.
Publishing is best-effort: each piece of async work is also a database row, and
a periodic sweep re-dispatches rows whose task never ran. A broker outage
therefore delays work and never loses it, and never fails the request.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from django.db import transaction
from django.db.models import Model, QuerySet

logger = logging.getLogger("workers.enqueue")


def publish(
    task: Task, *ids: Any, countdown: float | None = None, queue: str | None = None
) -> bool:
    """Send now; return False (and log) if the broker cannot take it."""
    options: dict[str, Any] = {}
    if countdown:
        options["countdown"] = countdown
    if queue:
        options["queue"] = queue
    try:
        task.apply_async(
            args=tuple(ids),
            retry=True,
            retry_policy={
                "max_retries": 1,
                "interval_start": 0,
                "interval_step": 0.2,
                "interval_max": 0.2,
            },
            **options,
        )
    except Exception as exc:
        logger.warning(
            "could not publish %s%r (%s: %s); the re-dispatch sweep will send it",
            task.name,
            ids,
            type(exc).__name__,
            exc,
        )
        return False
    return True


def redispatch(queryset: QuerySet[Model], task: Task, *, limit: int) -> int:
    """Publish ``task(pk)`` again for at most ``limit`` rows of ``queryset``; return how many.

    For the sweeps of each app: rows are claimed with ``skip_locked`` (two sweeps never
    send the same row twice at once) and sent in primary-key order; the first publish
    that fails stops the run, the rows stay for the next one.
    """
    with transaction.atomic():
        ids = list(
            queryset.select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
    sent = 0
    for pk in ids:
        if not publish(task, pk if isinstance(pk, int) else str(pk)):
            break  # the broker is down: stop here, the next run tries again
        sent += 1
    return sent


def enqueue_on_commit(
    task: Task, *ids: Any, countdown: float | None = None, queue: str | None = None
) -> None:
    """Publish ``task(*ids)`` once the current transaction commits (now if none).

    ``queue`` overrides the task's route (by default ``CELERY_TASK_ROUTES`` decide).
    """
    transaction.on_commit(
        lambda: publish(task, *ids, countdown=countdown, queue=queue), robust=True
    )
