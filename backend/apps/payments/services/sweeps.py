"""The re-dispatch sweep of payments work: rows whose task never ran, or whose worker died.

A ``pending`` payment or refund is published again when

- it has had no attempt ``REDISPATCH_AFTER_SECONDS`` after it was created (its
  message was never sent, or was lost);
- its last attempt started more than ``REDISPATCH_STALE_ATTEMPT_SECONDS`` ago (the
  task's hard time limit plus a margin: that attempt is over, whatever happened to
  its worker) and no retry is scheduled (``next_attempt_at`` is empty);
- its scheduled retry is ``REDISPATCH_AFTER_SECONDS`` overdue.

Work merely queued behind a backlog is not sent again: a row is skipped while the
oldest message waiting in its task's queue is older than the row's due time (the
queue is FIFO, so the row's own message may still be in it). When that age cannot
be read, only rows overdue by ``REDISPATCH_BACKLOG_GUARD_SECONDS`` are sent.

A webhook event still ``received`` after the grace period is published again, and so
is the provider cancel of a ``cancelled`` payment (abandoned by paying again) that the
provider has not answered yet. The
tasks re-check state under a lock, so a row sent twice is harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import Task
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.payments.models import Payment, Refund, WebhookEvent
from workers.enqueue import redispatch

logger = logging.getLogger(__name__)


def pending_work_lost(*, now: datetime, backlog: datetime) -> Q:
    """Pending payments or refunds whose task never ran, died, or missed its retry."""
    grace = timedelta(seconds=settings.REDISPATCH_AFTER_SECONDS)
    stale = timedelta(seconds=settings.REDISPATCH_STALE_ATTEMPT_SECONDS)
    never_tried = Q(last_attempt_at__isnull=True, created_at__lt=min(now - grace, backlog))
    died = Q(next_attempt_at__isnull=True, last_attempt_at__lt=now - stale)
    retry_missed = Q(next_attempt_at__lt=min(now - grace, backlog))
    return never_tried | died | retry_missed


def payment_work_redispatch(*, limit: int = 200) -> dict[str, int]:
    """Publish again the payments, refunds and webhook events left behind; counts per kind."""
    # Imported here: the task modules import the services (and ops reads payments).
    from apps.ops.services import redispatch_backlog_cutoff
    from apps.payments.tasks import (
        payment_cancel_task,
        payment_capture_task,
        refund_process_task,
        webhook_event_process_task,
    )

    now = timezone.now()
    grace = timedelta(seconds=settings.REDISPATCH_AFTER_SECONDS)
    # One queue read for the three (they share the "payments" queue by default).
    backlog = redispatch_backlog_cutoff(payment_capture_task, now=now)
    lost = pending_work_lost(now=now, backlog=backlog)
    # Each kind of left-behind row and the task that works on it.
    left_behind: dict[str, tuple[QuerySet[Any], Task]] = {
        "payments": (
            Payment.objects.filter(Q(status=Payment.Status.PENDING) & lost),
            payment_capture_task,
        ),
        "cancels": (
            Payment.objects.filter(
                status=Payment.Status.CANCELLED,
                provider_cancelled_at__isnull=True,
                updated_at__lt=now - grace,
            ).exclude(provider_reference=""),
            payment_cancel_task,
        ),
        "refunds": (
            Refund.objects.filter(Q(status=Refund.Status.PENDING) & lost),
            refund_process_task,
        ),
        "webhooks": (
            WebhookEvent.objects.filter(
                status=WebhookEvent.Status.RECEIVED, received_at__lt=min(now - grace, backlog)
            ),
            webhook_event_process_task,
        ),
    }
    counts = {
        kind: redispatch(rows, task, limit=limit) for kind, (rows, task) in left_behind.items()
    }
    if any(counts.values()):
        logger.info("re-dispatch sweep sent %s", counts)
    return counts
