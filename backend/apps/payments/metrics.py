"""Payment metrics (exported by ``/metrics`` with the rest of the default registry).

``storefront_payment_outcomes_total`` counts payments settled, by provider and outcome;
``storefront_payment_capture_seconds`` is the time from the payment's creation (the
checkout or the pay-again request) to its capture being applied: broker wait, provider
call and retries included, which is what a customer waits for the confirmation. Both are
recorded after the commit that settled the payment, by the process that applied it.
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from django.utils import timezone
from prometheus_client import Counter, Histogram

from apps.payments.models import Payment

logger = logging.getLogger(__name__)

PAYMENT_OUTCOMES = Counter(
    "storefront_payment_outcomes",
    "Payments settled, by provider and outcome (captured, failed, cancelled or duplicate).",
    ["provider", "status"],
)
CAPTURE_SECONDS = Histogram(
    "storefront_payment_capture_seconds",
    "Time from a payment's creation to its capture being applied, by provider.",
    ["provider"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0, 600.0, 1800.0),
)


def _observe(provider: str, status: str, seconds: float | None) -> None:
    try:
        PAYMENT_OUTCOMES.labels(provider, status).inc()
        if seconds is not None:
            CAPTURE_SECONDS.labels(provider).observe(max(seconds, 0.0))
    except Exception:  # telemetry never fails the task
        logger.warning("could not record a payment outcome", exc_info=True)


def payment_settled_observe(payment: Payment) -> None:
    """Count this payment's outcome once the transaction that settled it commits."""
    seconds = None
    if payment.status == Payment.Status.CAPTURED and payment.created_at:
        seconds = ((payment.captured_at or timezone.now()) - payment.created_at).total_seconds()
    transaction.on_commit(partial(_observe, payment.provider, payment.status, seconds))
