"""Writes of the cross-cutting rows: the daily purge of idempotency keys and task results."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django_celery_results.models import TaskResult

from utils.idempotency import idempotency_purge_expired


def expired_rows_purge() -> dict[str, int]:
    """Delete idempotency keys past their TTL and task results past their expiry."""
    cutoff = timezone.now() - settings.CELERY_RESULT_EXPIRES
    results, _ = TaskResult.objects.filter(date_done__lt=cutoff).delete()
    return {"idempotency_keys": idempotency_purge_expired(), "task_results": results}
