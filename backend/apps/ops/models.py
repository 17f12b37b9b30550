"""Ops records: worker probes, queue depth samples, stock drifts and task re-sends.

These rows are written by ops services and sweeps only; nothing here has side
effects in ``save()``. What does not belong here: Celery's own task results
(``django_celery_results.TaskResult``) and domain models of other apps.
"""

from __future__ import annotations

import uuid

from django.conf import settings
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
        WEBHOOKS = "webhooks"

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


class QueueSample(models.Model):
    """One broker queue depth reading, taken by the minute sweep (kept 24 h)."""

    queue = models.CharField(max_length=64)
    depth = models.PositiveIntegerField()
    sampled_at = models.DateTimeField()

    class Meta:
        ordering = ["-sampled_at", "queue"]
        indexes = [models.Index(fields=["queue", "sampled_at"])]

    def __str__(self) -> str:
        return f"{self.queue}={self.depth} at {self.sampled_at:%Y-%m-%d %H:%M}"


class StockDrift(models.Model):
    """A variant whose ``Stock.on_hand`` disagrees with the sum of its ledger.

    Written by the stock reconciliation sweep, one row per drifting variant per
    run (``run_id``). A drift stays unresolved until a later run no longer finds
    it (see ``apps.ops.services.stock_drifts_record``) or staff mark it resolved.
    """

    variant = models.ForeignKey(
        "catalog.Variant", on_delete=models.CASCADE, related_name="stock_drifts"
    )
    # Reconciliation checks each (variant, warehouse); null on drifts recorded before warehouses.
    warehouse = models.ForeignKey(
        "catalog.Warehouse", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    on_hand = models.IntegerField()
    ledger_sum = models.IntegerField()
    held_by_open_orders = models.IntegerField(default=0)
    run_id = models.UUIDField(db_index=True)
    detected_at = models.DateTimeField(db_index=True)
    resolved = models.BooleanField(default=False, db_index=True)

    class Meta:
        ordering = ["-detected_at", "variant_id"]

    def __str__(self) -> str:
        return f"variant {self.variant_id}: on_hand {self.on_hand} != ledger {self.ledger_sum}"

    @property
    def difference(self) -> int:
        """Units on hand beyond (positive) or short of (negative) what the ledger says."""
        return self.on_hand - self.ledger_sum


class TaskRetry(models.Model):
    """Staff re-sent a failed task: which one, as which new task id, and who asked."""

    original_task_id = models.CharField(max_length=255, db_index=True)
    retry_task_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    task_name = models.CharField(max_length=255)
    args = models.JSONField(default=list)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name_plural = "task retries"

    def __str__(self) -> str:
        return f"{self.task_name}[{self.original_task_id}] -> {self.retry_task_id or '?'}"
