"""Ops records: end-to-end worker probes (more monitoring models join later)."""

from __future__ import annotations

import uuid

from django.db import models


class WorkerProbe(models.Model):
    """A round trip through the broker and a worker, started by staff or a check.

    The request stores its trace id; the task records the worker's hostname and
    the trace id it ran under, so ops can see that work flows and stays traced.
    """

    class Queue(models.TextChoices):
        DEFAULT = "default"
        PAYMENTS = "payments"
        EMAILS = "emails"
        MAINTENANCE = "maintenance"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    queue = models.CharField(max_length=20, choices=Queue.choices, default=Queue.DEFAULT)
    created_at = models.DateTimeField(auto_now_add=True)
    request_trace_id = models.CharField(max_length=32, blank=True, default="")
    completed_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, default="")
    task_trace_id = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"probe {self.id} ({self.queue})"
