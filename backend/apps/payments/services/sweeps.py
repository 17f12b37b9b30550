"""The re-dispatch sweep of payments work: rows whose task never ran, or went silent.

A ``pending`` payment or refund with no attempt ``REDISPATCH_AFTER_SECONDS`` after it
was created, or none for ``REDISPATCH_STALE_ATTEMPT_SECONDS`` (longer than any retry
delay: its message was lost), and a webhook event still ``received`` after the grace
period are published again, and so is the provider cancel of a ``cancelled`` payment
(abandoned by paying again) that the provider has not answered yet. The tasks re-check
state under a lock, so a row sent twice is harmless.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.payments.models import Payment, Refund, WebhookEvent
from workers.enqueue import redispatch

logger = logging.getLogger(__name__)


def payment_work_redispatch(*, limit: int = 200) -> dict[str, int]:
    """Publish again the payments, refunds and webhook events left behind; counts per kind."""
    # Imported here: the task modules import the services.
    from apps.payments.tasks import (
        payment_cancel_task,
        payment_capture_task,
        refund_process_task,
        webhook_event_process_task,
    )

    now = timezone.now()
    grace = timedelta(seconds=settings.REDISPATCH_AFTER_SECONDS)
    stale = timedelta(seconds=settings.REDISPATCH_STALE_ATTEMPT_SECONDS)
    never_tried = Q(last_attempt_at__isnull=True, created_at__lt=now - grace)
    lost = Q(last_attempt_at__lt=now - stale)
    counts = {
        "payments": redispatch(
            Payment.objects.filter(Q(status=Payment.Status.PENDING) & (never_tried | lost)),
            payment_capture_task,
            limit=limit,
        ),
        "cancels": redispatch(
            Payment.objects.filter(
                status=Payment.Status.CANCELLED,
                provider_cancelled_at__isnull=True,
                updated_at__lt=now - grace,
            ).exclude(provider_reference=""),
            payment_cancel_task,
            limit=limit,
        ),
        "refunds": redispatch(
            Refund.objects.filter(Q(status=Refund.Status.PENDING) & (never_tried | lost)),
            refund_process_task,
            limit=limit,
        ),
        "webhooks": redispatch(
            WebhookEvent.objects.filter(
                status=WebhookEvent.Status.RECEIVED, received_at__lt=now - grace
            ),
            webhook_event_process_task,
            limit=limit,
        ),
    }
    if any(counts.values()):
        logger.info("re-dispatch sweep sent %s", counts)
    return counts
