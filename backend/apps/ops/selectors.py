"""Database reads for ops: task results, webhooks, stuck payments, emails, drifts, samples.

Every function returns a queryset with its joins fixed here, or a small plain
aggregate, so the query count of each ops endpoint does not grow with rows.
Thresholds come from settings (``OPS_STUCK_PAYMENT_MINUTES``,
``OPS_QUEUED_EMAIL_MINUTES``), 10 minutes by default.
What does not belong here: writes and broker calls (see ``services.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, TruncMinute
from django.utils import timezone
from django_celery_results.models import TaskResult

from apps.notifications.models import EmailLog
from apps.ops.models import QueueSample, StockDrift, TaskRetry
from apps.orders.models import Fulfilment, Order
from apps.payments.models import Payment, WebhookEvent
from utils.errors import NotFoundError

PROVIDER_UNAVAILABLE = "provider_unavailable"
DRIFT_ITEMS_LIMIT = 50


def stuck_payment_minutes() -> int:
    return settings.OPS_STUCK_PAYMENT_MINUTES


def queued_email_minutes() -> int:
    return settings.OPS_QUEUED_EMAIL_MINUTES


# --- Task results --------------------------------------------------------------------


def task_result_list() -> QuerySet[TaskResult]:
    """Task results, newest first, each with the id and state of its latest ops re-send."""
    last_retry = TaskRetry.objects.filter(original_task_id=OuterRef("task_id")).order_by(
        "-requested_at", "-id"
    )
    return (
        TaskResult.objects.annotate(
            last_retry_task_id=Subquery(last_retry.values("retry_task_id")[:1])
        )
        .annotate(
            last_retry_requested_at=Subquery(last_retry.values("requested_at")[:1]),
            last_retry_state=Subquery(
                TaskResult.objects.filter(task_id=OuterRef("last_retry_task_id")).values("status")[
                    :1
                ]
            ),
        )
        .order_by("-date_created", "-id")
    )


def task_result_get(*, task_id: str) -> TaskResult:
    result = TaskResult.objects.filter(task_id=task_id).first()
    if result is None:
        raise NotFoundError("No task result with this id.")
    return result


def task_outcomes_since(*, since: datetime) -> list[dict[str, Any]]:
    """How many task results per (name, state) were created since ``since``."""
    rows = (
        TaskResult.objects.filter(date_created__gte=since)
        .values("task_name", "status")
        .annotate(count=Count("id"))
        .order_by("task_name", "status")
    )
    return [
        {"name": row["task_name"] or "", "state": row["status"], "count": row["count"]}
        for row in rows
    ]


def task_result_counts() -> list[dict[str, Any]]:
    """Stored task results per (name, state), for the metrics scrape."""
    return task_outcomes_since(since=timezone.now() - settings.CELERY_RESULT_EXPIRES)


# --- Webhook events ----------------------------------------------------------------------


def webhook_event_list() -> QuerySet[WebhookEvent]:
    return WebhookEvent.objects.order_by("-received_at", "-id")


def webhook_event_get(*, event_id: int) -> WebhookEvent:
    event = WebhookEvent.objects.filter(pk=event_id).first()
    if event is None:
        raise NotFoundError("No webhook event with this id.")
    return event


def status_counts(queryset: QuerySet[Any], field: str = "status") -> dict[str, int]:
    rows = queryset.order_by().values(field).annotate(count=Count("pk"))
    return {str(row[field]): int(row["count"]) for row in rows}


# --- Payments, emails ----------------------------------------------------------------------


def payment_stuck_list(*, now: datetime | None = None) -> QuerySet[Payment]:
    """Payments past the threshold: still pending or waiting for action, or failed
    because the provider was unreachable while their order still waits for payment."""
    cutoff = (now or timezone.now()) - timedelta(minutes=stuck_payment_minutes())
    waiting = Q(status__in=[Payment.Status.PENDING, Payment.Status.REQUIRES_ACTION])
    provider_down = Q(
        status=Payment.Status.FAILED,
        failure_code=PROVIDER_UNAVAILABLE,
        order__status=Order.Status.PENDING_PAYMENT,
    )
    return (
        Payment.objects.select_related("order")
        .annotate(last_activity_at=Coalesce("last_attempt_at", "created_at"))
        .filter(waiting | provider_down, last_activity_at__lt=cutoff)
        .order_by("last_activity_at", "id")
    )


def email_queued_stale_count(*, now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(minutes=queued_email_minutes())
    return EmailLog.objects.filter(status=EmailLog.Status.QUEUED, created_at__lt=cutoff).count()


# --- Fulfilments -----------------------------------------------------------------------------


def unshipped_fulfilment_days() -> int:
    return settings.OPS_UNSHIPPED_FULFILMENT_DAYS


def fulfilment_unshipped_list(*, now: datetime | None = None) -> QuerySet[Fulfilment]:
    """Parcels packed more than ``OPS_UNSHIPPED_FULFILMENT_DAYS`` ago and still pending,
    oldest first, with their order and warehouse."""
    cutoff = (now or timezone.now()) - timedelta(days=unshipped_fulfilment_days())
    return (
        Fulfilment.objects.select_related("order", "warehouse")
        .filter(status=Fulfilment.Status.PENDING, created_at__lt=cutoff)
        .order_by("created_at", "id")
    )


# --- Stock drifts, queue samples --------------------------------------------------------------


def stock_drift_summary() -> dict[str, Any]:
    """The drifts found by the last reconciliation run (and how many are still open)."""
    last = (
        StockDrift.objects.order_by("-detected_at", "-id").values("run_id", "detected_at").first()
    )
    unresolved = StockDrift.objects.filter(resolved=False).count()
    if last is None:
        return {
            "last_run_id": None,
            "last_detected_at": None,
            "count": 0,
            "unresolved": 0,
            "items": [],
        }
    run = StockDrift.objects.filter(run_id=last["run_id"]).select_related("variant")
    items = [
        {
            "id": drift.pk,
            "variant_id": drift.variant_id,
            "sku": drift.variant.sku,
            "on_hand": drift.on_hand,
            "ledger_sum": drift.ledger_sum,
            "difference": drift.difference,
            "held_by_open_orders": drift.held_by_open_orders,
            "resolved": drift.resolved,
        }
        for drift in run.order_by("variant_id")[:DRIFT_ITEMS_LIMIT]
    ]
    return {
        "last_run_id": str(last["run_id"]),
        "last_detected_at": last["detected_at"],
        "count": run.count(),
        "unresolved": unresolved,
        "items": items,
    }


def stock_drift_unresolved_count() -> int:
    return StockDrift.objects.filter(resolved=False).count()


def queue_history(*, since: datetime) -> dict[str, list[dict[str, Any]]]:
    """Depth samples per queue since ``since``, oldest first."""
    series: dict[str, list[dict[str, Any]]] = {}
    rows = (
        QueueSample.objects.filter(sampled_at__gte=since)
        .order_by("queue", "sampled_at")
        .values_list("queue", "sampled_at", "depth")
    )
    for queue, sampled_at, depth in rows:
        series.setdefault(queue, []).append({"at": sampled_at, "depth": depth})
    return series


# --- Per-minute activity (the dashboard's charts) -----------------------------------------

OUTCOME_STATES = ("SUCCESS", "FAILURE", "RETRY")


def _minute_index(at: datetime, start: datetime, minutes: int) -> int | None:
    index = int((at - start).total_seconds() // 60)
    return index if 0 <= index < minutes else None


def checkouts_per_minute(*, start: datetime, minutes: int) -> list[int]:
    """Orders placed in each minute from ``start`` (one ``GROUP BY`` query)."""
    counts = [0] * minutes
    rows = (
        Order.objects.filter(created_at__gte=start)
        .annotate(minute=TruncMinute("created_at"))
        .values("minute")
        .annotate(count=Count("id"))
    )
    for row in rows:
        index = _minute_index(row["minute"], start, minutes)
        if index is not None:
            counts[index] += row["count"]
    return counts


def task_outcomes_per_minute(*, start: datetime, minutes: int) -> dict[str, list[int]]:
    """Task results finished in each minute from ``start``, by state (one query)."""
    series = {state: [0] * minutes for state in OUTCOME_STATES}
    rows = (
        TaskResult.objects.filter(date_done__gte=start, status__in=OUTCOME_STATES)
        .annotate(minute=TruncMinute("date_done"))
        .values("minute", "status")
        .annotate(count=Count("id"))
    )
    for row in rows:
        index = _minute_index(row["minute"], start, minutes)
        if index is not None:
            series[row["status"]][index] += row["count"]
    return series


def queue_depth_per_minute(
    history: dict[str, list[dict[str, Any]]], *, start: datetime, minutes: int
) -> dict[str, list[int | None]]:
    """The last depth sample of each minute per queue (``None``: no sample that minute)."""
    series: dict[str, list[int | None]] = {}
    for queue, points in history.items():
        values: list[int | None] = [None] * minutes
        for point in points:  # oldest first: a later sample of a minute wins
            index = _minute_index(point["at"], start, minutes)
            if index is not None:
                values[index] = point["depth"]
        series[queue] = values
    return series
