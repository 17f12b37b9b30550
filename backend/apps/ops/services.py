"""Writes for ops: worker probes."""

from __future__ import annotations

import socket

from django.db import transaction
from django.utils import timezone

from apps.ops.models import WorkerProbe
from utils.telemetry import current_trace_id
from workers.enqueue import enqueue_on_commit


@transaction.atomic
def worker_probe_create(*, queue: str) -> WorkerProbe:
    from apps.ops.tasks import worker_probe_complete_task

    probe = WorkerProbe.objects.create(queue=queue, request_trace_id=current_trace_id())
    enqueue_on_commit(worker_probe_complete_task, str(probe.pk), queue=queue)
    return probe


@transaction.atomic
def worker_probe_complete(*, probe_id: str) -> WorkerProbe | None:
    probe = WorkerProbe.objects.select_for_update().filter(pk=probe_id).first()
    if probe is None or probe.completed_at is not None:
        return probe  # gone, or already answered by an earlier delivery
    probe.completed_at = timezone.now()
    probe.worker = socket.gethostname()
    probe.task_trace_id = current_trace_id()
    probe.save(update_fields=["completed_at", "worker", "task_trace_id"])
    return probe
