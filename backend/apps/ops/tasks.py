"""Ops tasks: thin wrappers that load by id and call a service."""

from __future__ import annotations

from celery import shared_task

from apps.ops import services
from workers.base import BaseTask


@shared_task(base=BaseTask, name="apps.ops.tasks.worker_probe_complete_task")
def worker_probe_complete_task(probe_id: str) -> None:
    services.worker_probe_complete(probe_id=probe_id)


@shared_task(base=BaseTask, name="apps.ops.tasks.queue_sample_task")
def queue_sample_task() -> int:
    return services.queue_sample_record()
