"""Core tasks (``maintenance`` queue): the daily purge, run by beat."""

from __future__ import annotations

from celery import shared_task

from apps.core.services import expired_rows_purge
from workers.base import BaseTask


@shared_task(base=BaseTask, name="apps.core.tasks.purge_sweep_task")
def purge_sweep_task() -> dict[str, int]:
    return expired_rows_purge()
