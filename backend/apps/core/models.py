"""Idempotency records for Idempotency-Key requests (logic in ``utils.idempotency``)."""

from __future__ import annotations

from django.db import models


class IdempotencyRecord(models.Model):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"

    # "user:<id>" or "cart:<uuid>": one owner's key never replays another's response.
    owner = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="core_idempotency_owner_key"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.key} ({self.status})"
