"""The base class of every project task.

Late acknowledgement plus ``reject_on_worker_lost`` means a task whose worker
dies is delivered again; that is safe because every task is idempotent (its
service re-reads state under a row lock). Transient failures retry with
exponential backoff and full jitter, bounded by ``max_retries``.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from django.conf import settings

logger = logging.getLogger("workers")


class TransientError(Exception):
    """A failure worth retrying later (provider timeout, lock contention, ...)."""


class BaseTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (TransientError,)
    retry_backoff = settings.TASK_RETRY_BACKOFF_SECONDS
    retry_backoff_max = settings.TASK_RETRY_BACKOFF_MAX_SECONDS
    retry_jitter = True
    max_retries = settings.TASK_MAX_RETRIES
    # Ops may re-send a failed run of any task built on this class.
    idempotent = True

    def on_retry(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        logger.warning(
            "task %s[%s] retry %s after %s: %s",
            self.name,
            task_id,
            self.request.retries + 1,
            type(exc).__name__,
            exc,
        )

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        logger.error("task %s[%s] failed: %s: %s", self.name, task_id, type(exc).__name__, exc)
