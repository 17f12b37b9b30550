"""The base class of every project task.

Late acknowledgement plus ``reject_on_worker_lost`` means a task whose worker
dies is delivered again; that is safe because every task is idempotent (its
service re-reads state under a row lock). Transient failures retry with
exponential backoff and full jitter, bounded by ``max_retries``. A lost database
connection (``OperationalError``, ``InterfaceError``) is transient too: the broken
connection is dropped and the task retries, capped at
``TASK_DB_RETRY_BACKOFF_MAX_SECONDS`` so that work resumes within seconds of the
database coming back.

Before a retry is published, ``retry_scheduled(eta)`` lets the task record on its
durable row that another attempt is on its way (``Payment.next_attempt_at``): the
re-dispatch sweep can then tell "waiting for a retry" from "its worker died".
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import Task
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.utils import timezone

logger = logging.getLogger("workers")

DATABASE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


class TransientError(Exception):
    """A failure worth retrying later (provider timeout, lock contention, ...)."""


def drop_broken_connections() -> None:
    """Close database connections that errored (outside a transaction only): the next
    query opens a fresh one instead of failing on a dead socket."""
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block:
            continue
        try:
            conn.close_if_unusable_or_obsolete()
        except Exception:  # closing a dead socket may raise; it is gone either way
            logger.debug("closing a broken connection failed", exc_info=True)


class BaseTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (TransientError, *DATABASE_ERRORS)
    retry_backoff = settings.TASK_RETRY_BACKOFF_SECONDS
    retry_backoff_max = settings.TASK_RETRY_BACKOFF_MAX_SECONDS
    retry_jitter = True
    max_retries = settings.TASK_MAX_RETRIES
    # Ops may re-send a failed run of any task built on this class.
    idempotent = True

    def retry_scheduled(self, eta: datetime) -> None:
        """Record that another attempt of this run is scheduled at ``eta`` (override)."""

    def retry(
        self,
        args: Any = None,
        kwargs: Any = None,
        exc: Exception | None = None,
        throw: bool = True,
        eta: datetime | None = None,
        countdown: float | None = None,
        max_retries: int | None = None,
        **options: Any,
    ) -> Any:
        if isinstance(exc, DATABASE_ERRORS):
            drop_broken_connections()
            if countdown is not None:
                countdown = min(countdown, settings.TASK_DB_RETRY_BACKOFF_MAX_SECONDS)
        limit = self.max_retries if max_retries is None else max_retries
        if limit is None or self.request.retries < limit:
            when = eta or timezone.now() + timedelta(
                seconds=countdown if countdown is not None else self.default_retry_delay
            )
            try:
                self.retry_scheduled(when)
            except Exception as marker_exc:  # the database may be the thing that is down
                drop_broken_connections()
                logger.warning(
                    "task %s[%s]: could not record the retry at %s (%s: %s); the "
                    "re-dispatch sweep covers it",
                    self.name,
                    self.request.id,
                    when.isoformat(),
                    type(marker_exc).__name__,
                    marker_exc,
                )
        return super().retry(
            args=args,
            kwargs=kwargs,
            exc=exc,
            throw=throw,
            eta=eta,
            countdown=countdown,
            max_retries=max_retries,
            **options,
        )

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
