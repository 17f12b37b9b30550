"""Periodic sweeps run by beat on the ``maintenance`` queue, and the beat schedule.

Every sweep is bounded per run and safe to run concurrently with itself: rows
are claimed with ``select_for_update(skip_locked=True)`` where it matters, and
what a sweep re-sends is idempotent anyway (tasks re-check state under a lock).

- every minute: cancel orders past their payment deadline; re-dispatch work
  whose task never ran (pending payments and refunds, queued emails, received
  webhook events); sample queue depths for the ops dashboard;
- hourly: reconcile stock with its ledger and record every drift;
- daily: purge idempotency keys older than 24 h and expired task results.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.schedules import crontab
from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from workers.base import BaseTask
from workers.enqueue import publish

logger = logging.getLogger("workers.sweeps")

BATCH = 200


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


# --- Payment deadline ---------------------------------------------------------------


def deadline_sweep(*, limit: int = BATCH) -> list[str]:
    """Cancel ``pending_payment`` orders whose deadline has passed; return their ids."""
    from apps.orders.models import Order
    from apps.orders.services import order_expire

    now = timezone.now()
    cancelled: list[str] = []
    with transaction.atomic():
        ids = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(status=Order.Status.PENDING_PAYMENT, payment_deadline__lt=now)
            .order_by("payment_deadline")
            .values_list("pk", flat=True)[:limit]
        )
    for order_id in ids:
        # One transaction per order: one failure does not hold back the others.
        try:
            if order_expire(order_id=order_id):
                cancelled.append(str(order_id))
        except Exception:
            logger.exception("could not cancel expired order %s", order_id)
    if cancelled:
        logger.info("deadline sweep cancelled %d orders", len(cancelled))
    return cancelled


# --- Re-dispatch of lost work ----------------------------------------------------------


def _redispatch(queryset: Any, task_path: str, *, limit: int) -> int:
    module_name, task_name = task_path.rsplit(".", 1)
    import importlib

    task = getattr(importlib.import_module(module_name), task_name)
    with transaction.atomic():
        ids = list(
            queryset.select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
    sent = 0
    for pk in ids:
        arg = pk if isinstance(pk, int) else str(pk)
        if publish(task, arg):
            sent += 1
        else:
            break  # the broker is down: stop here, the next run tries again
    return sent


def redispatch_sweep(*, limit: int = BATCH) -> dict[str, int]:
    """Publish again the work whose task never ran or was lost; return counts per kind."""
    from apps.notifications.models import EmailLog
    from apps.payments.models import Payment, Refund, WebhookEvent

    now = timezone.now()
    grace = timedelta(seconds=_setting("REDISPATCH_AFTER_SECONDS", 60))
    # A payment that is retrying has a recent attempt; one silent for longer than the
    # longest retry delay was lost with its message.
    stale = timedelta(seconds=_setting("REDISPATCH_STALE_ATTEMPT_SECONDS", 900))
    never_tried = Q(last_attempt_at__isnull=True, created_at__lt=now - grace)
    lost = Q(last_attempt_at__lt=now - stale)

    counts = {
        "payments": _redispatch(
            Payment.objects.filter(Q(status=Payment.Status.PENDING) & (never_tried | lost)),
            "apps.payments.tasks.payment_capture_task",
            limit=limit,
        ),
        "refunds": _redispatch(
            Refund.objects.filter(Q(status=Refund.Status.PENDING) & (never_tried | lost)),
            "apps.payments.tasks.refund_process_task",
            limit=limit,
        ),
        "emails": _redispatch(
            EmailLog.objects.filter(status=EmailLog.Status.QUEUED, updated_at__lt=now - grace),
            "apps.notifications.tasks.order_email_send_task",
            limit=limit,
        ),
        "webhooks": _redispatch(
            WebhookEvent.objects.filter(
                status=WebhookEvent.Status.RECEIVED, received_at__lt=now - grace
            ),
            "apps.payments.tasks.webhook_event_process_task",
            limit=limit,
        ),
    }
    if any(counts.values()):
        logger.info("re-dispatch sweep sent %s", counts)
    return counts


# --- Stock reconciliation -------------------------------------------------------------


def stock_reconcile(*, limit: int = 1000) -> list[dict[str, int]]:
    """Compare each variant's on_hand with its ledger; record drifts, never overwrite.

    Each drift is a ``StockDrift`` row (the ops overview and ``/metrics`` count the
    unresolved ones) and a warning log line naming the variant. ``held`` is what
    open orders hold, for the person who investigates.
    """
    from apps.catalog.models import Stock, StockMovement
    from apps.ops.services import stock_drifts_record
    from apps.orders.models import Order, OrderLine

    ledger = (
        StockMovement.objects.filter(variant_id=OuterRef("variant_id"))
        .values("variant_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    held = (
        OrderLine.objects.filter(
            variant_id=OuterRef("variant_id"),
            order__status__in=[Order.Status.PENDING_PAYMENT, Order.Status.PAID],
        )
        .values("variant_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    drifts = list(
        Stock.objects.annotate(
            ledger_sum=Coalesce(Subquery(ledger), Value(0)),
            held=Coalesce(Subquery(held), Value(0)),
        )
        .exclude(on_hand=F("ledger_sum"))
        .order_by("variant_id")
        .values("variant_id", "on_hand", "ledger_sum", "held")[:limit]
    )
    stock_drifts_record(
        run_id=uuid.uuid4(),
        drifts=[
            {
                "variant_id": row["variant_id"],
                "on_hand": row["on_hand"],
                "ledger_sum": row["ledger_sum"],
                "held_by_open_orders": row["held"],
            }
            for row in drifts
        ],
    )
    for row in drifts:
        logger.warning(
            "stock drift: variant=%s on_hand=%s ledger_sum=%s held_by_open_orders=%s",
            row["variant_id"],
            row["on_hand"],
            row["ledger_sum"],
            row["held"],
        )
    return drifts


# --- Purges ------------------------------------------------------------------------------


def purge_sweep() -> dict[str, int]:
    """Delete idempotency keys past their TTL and task results past their expiry."""
    from django_celery_results.models import TaskResult

    from utils.idempotency import idempotency_purge_expired

    expires = settings.CELERY_RESULT_EXPIRES
    results, _ = TaskResult.objects.filter(date_done__lt=timezone.now() - expires).delete()
    return {"idempotency_keys": idempotency_purge_expired(), "task_results": results}


# --- Tasks ------------------------------------------------------------------------------


@shared_task(base=BaseTask, name="workers.schedules.payment_deadline_sweep_task")
def payment_deadline_sweep_task() -> int:
    return len(deadline_sweep())


@shared_task(base=BaseTask, name="workers.schedules.redispatch_sweep_task")
def redispatch_sweep_task() -> dict[str, int]:
    return redispatch_sweep()


@shared_task(base=BaseTask, name="workers.schedules.queue_sample_task")
def queue_sample_task() -> None:
    from apps.ops.services import queue_sample_record

    queue_sample_record()


@shared_task(base=BaseTask, name="workers.schedules.stock_reconcile_task")
def stock_reconcile_task() -> int:
    return len(stock_reconcile())


@shared_task(base=BaseTask, name="workers.schedules.purge_sweep_task")
def purge_sweep_task() -> dict[str, int]:
    return purge_sweep()


_EVERY = float(settings.SWEEP_INTERVAL_SECONDS)

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "payment-deadline-sweep": {
        "task": "workers.schedules.payment_deadline_sweep_task",
        "schedule": _EVERY,
        "options": {"queue": "maintenance", "expires": max(1.0, _EVERY - 5)},
    },
    "redispatch-sweep": {
        "task": "workers.schedules.redispatch_sweep_task",
        "schedule": _EVERY,
        "options": {"queue": "maintenance", "expires": max(1.0, _EVERY - 5)},
    },
    "queue-sample": {
        "task": "workers.schedules.queue_sample_task",
        "schedule": _EVERY,
        "options": {"queue": "maintenance", "expires": max(1.0, _EVERY - 5)},
    },
    "stock-reconcile": {
        "task": "workers.schedules.stock_reconcile_task",
        "schedule": crontab(minute=7),
        "options": {"queue": "maintenance", "expires": 3000},
    },
    "purge": {
        "task": "workers.schedules.purge_sweep_task",
        "schedule": crontab(hour=3, minute=17),
        "options": {"queue": "maintenance", "expires": 3600},
    },
}
