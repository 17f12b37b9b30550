"""Ops writes and broker calls: probes, queue reads and samples, drifts, retries, replays.

Broker calls never hang a request: each is bounded by ``OPS_BROKER_TIMEOUT_SECONDS``
(1 s by default) and answers ``unavailable`` with the reason when the broker or
the workers cannot be reached. Writes are keyword-only and one transaction each.
What does not belong here: HTTP objects, and reads of other apps' rows (``selectors.py``).
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict

from celery import Task
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import status

from apps.accounts.models import User
from apps.ops import broker, registry
from apps.ops.broker import BrokerUnavailable, QueueStat
from apps.ops.models import QueueSample, StockDrift, TaskRetry, WorkerProbe
from apps.ops.selectors import task_result_get
from apps.payments.models import WebhookEvent
from utils.errors import ApplicationError, InvalidStateError, NotFoundError
from utils.telemetry import current_trace_id
from workers.enqueue import enqueue_on_commit, publish

logger = logging.getLogger(__name__)

SAMPLE_RETENTION = timedelta(hours=24)
WEBHOOK_TASK = "apps.payments.tasks.webhook_event_process_task"


class Unavailable(TypedDict):
    unavailable: str


class QueueAge(TypedDict):
    age_seconds: float | None
    reason: NotRequired[str]


class WorkerInfo(TypedDict):
    name: str
    queues: list[str]


class WorkersStatus(TypedDict):
    status: Literal["ok", "unavailable"]
    reason: NotRequired[str]
    workers: list[WorkerInfo]


class DriftInput(TypedDict):
    variant_id: int
    on_hand: int
    ledger_sum: int
    held_by_open_orders: NotRequired[int]
    warehouse_id: NotRequired[int | None]


class BrokerUnavailableError(ApplicationError):
    code = "broker_unavailable"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    message = "The broker did not take the task; try again shortly."


# --- Worker probes ------------------------------------------------------------------------


@transaction.atomic
def worker_probe_create(*, queue: str) -> WorkerProbe:
    from apps.ops.tasks import worker_probe_complete_task

    probe = WorkerProbe.objects.create(queue=queue, request_trace_id=current_trace_id())
    enqueue_on_commit(worker_probe_complete_task, str(probe.pk), queue=queue)
    return probe


@transaction.atomic
def worker_probe_complete(*, probe_id: str) -> WorkerProbe | None:
    probe = WorkerProbe.objects.select_for_update().filter(pk=probe_id).first()
    if probe is None or probe.completed_at is not None:
        return probe  # gone, or already answered by an earlier delivery
    probe.completed_at = timezone.now()
    probe.worker = socket.gethostname()
    probe.task_trace_id = current_trace_id()
    probe.save(update_fields=["completed_at", "worker", "task_trace_id"])
    return probe


# --- Broker reads ---------------------------------------------------------------------------


def _read_queue_stats(timeout: float) -> dict[str, QueueStat]:
    reason = broker.eager_reason()
    if reason:
        raise BrokerUnavailable(reason)
    with broker.connection(timeout) as conn:
        return broker.read_queue_stats(conn, broker.queue_names())


def _read_workers(timeout: float) -> WorkersStatus:
    reason = broker.eager_reason()
    if reason:
        return {"status": "unavailable", "reason": reason, "workers": []}
    with broker.connection(timeout) as conn:
        replies = broker.read_active_queues(conn, timeout)
    if not replies:
        reason = f"no worker answered within {timeout:g} s"
        return {"status": "unavailable", "reason": reason, "workers": []}
    workers: list[WorkerInfo] = [{"name": name, "queues": qs} for name, qs in replies.items()]
    return {"status": "ok", "workers": workers}


def _deadline(timeout: float) -> float:
    return timeout + 1.0


def queue_stats(*, timeout: float | None = None) -> dict[str, QueueStat]:
    """Depth and oldest-message age of every configured queue; ``BrokerUnavailable`` if not."""
    limit = timeout or broker.broker_timeout()
    try:
        return broker.bounded(lambda: _read_queue_stats(limit), deadline=_deadline(limit))
    except BrokerUnavailable:
        raise
    except Exception as exc:
        raise BrokerUnavailable(broker.reason_of(exc)) from exc


def queue_depths(*, timeout: float | None = None) -> dict[str, int | Unavailable]:
    """Messages waiting in each queue, read from the broker (``LLEN`` on Redis)."""
    try:
        stats = queue_stats(timeout=timeout)
    except BrokerUnavailable as exc:
        return {name: {"unavailable": str(exc)} for name in broker.queue_names()}
    return {name: stat["depth"] for name, stat in stats.items()}


def queue_oldest_age(*, timeout: float | None = None) -> dict[str, QueueAge]:
    """Seconds since the oldest waiting message of each queue was sent, where readable."""
    try:
        stats = queue_stats(timeout=timeout)
    except BrokerUnavailable as exc:
        return {name: {"age_seconds": None, "reason": str(exc)} for name in broker.queue_names()}
    ages: dict[str, QueueAge] = {}
    for name, stat in stats.items():
        age: QueueAge = {"age_seconds": stat["oldest_age_seconds"]}
        if stat["oldest_age_reason"]:
            age["reason"] = stat["oldest_age_reason"]
        ages[name] = age
    return ages


def queue_backlog_seconds(queue: str, *, timeout: float | None = None) -> float | None:
    """How long the oldest message waiting in ``queue`` has waited: 0.0 when it is empty
    (or tasks run eagerly), None when that cannot be told (broker unreachable, or a
    transport that does not say and a queue that is not empty). For the re-dispatch
    sweeps: a row newer than this may still have its message in the queue."""
    if broker.eager_reason():
        return 0.0
    try:
        stat = queue_stats(timeout=timeout).get(queue)
    except BrokerUnavailable:
        return None
    if stat is None or stat["depth"] == 0:
        return 0.0
    return stat["oldest_age_seconds"]


def task_queue(task: Task) -> str:
    """The queue ``CELERY_TASK_ROUTES`` send ``task`` to."""
    return str(broker.celery_app().amqp.router.route({}, task.name)["queue"].name)


def redispatch_backlog_cutoff(task: Task, *, now: datetime) -> datetime:
    """For the re-dispatch sweeps: rows due before this are no longer waiting in
    ``task``'s queue (FIFO: its oldest message was sent after them). When the age
    cannot be read, ``REDISPATCH_BACKLOG_GUARD_SECONDS`` ago."""
    age = queue_backlog_seconds(task_queue(task))
    if age is None:
        age = float(settings.REDISPATCH_BACKLOG_GUARD_SECONDS)
    return now - timedelta(seconds=age)


def workers_alive(*, timeout: float = 1.0) -> WorkersStatus:
    """Workers that answer a broadcast within ``timeout``, with the queues they consume."""
    try:
        return broker.bounded(lambda: _read_workers(timeout), deadline=_deadline(timeout))
    except Exception as exc:
        return {"status": "unavailable", "reason": broker.reason_of(exc), "workers": []}


def broker_snapshot(
    *, timeout: float | None = None
) -> tuple[dict[str, QueueStat] | BrokerUnavailable, WorkersStatus]:
    """Queue stats (or why they are unavailable) and workers, read concurrently."""
    limit = timeout or broker.broker_timeout()
    results = broker.bounded_all(
        {"queues": lambda: _read_queue_stats(limit), "workers": lambda: _read_workers(limit)},
        deadline=_deadline(limit),
    )
    raw_queues, raw_workers = results["queues"], results["workers"]
    queues: dict[str, QueueStat] | BrokerUnavailable
    if isinstance(raw_queues, BrokerUnavailable):
        queues = raw_queues
    elif isinstance(raw_queues, BaseException):
        queues = BrokerUnavailable(broker.reason_of(raw_queues))
    else:
        queues = raw_queues
    workers: WorkersStatus
    if isinstance(raw_workers, BaseException):
        workers = {"status": "unavailable", "reason": broker.reason_of(raw_workers), "workers": []}
    else:
        workers = raw_workers
    return queues, workers


# --- Samples and drifts -------------------------------------------------------------------


def queue_sample_record(*, now: datetime | None = None) -> int:
    """Store one depth sample per reachable queue and drop samples older than 24 h.

    Called by the minute sweep; the dashboard draws its sparklines from these rows.
    """
    now = now or timezone.now()
    depths = queue_depths()
    samples = [
        QueueSample(queue=name, depth=depth, sampled_at=now)
        for name, depth in depths.items()
        if isinstance(depth, int)
    ]
    with transaction.atomic():
        QueueSample.objects.bulk_create(samples)
        QueueSample.objects.filter(sampled_at__lt=now - SAMPLE_RETENTION).delete()
    return len(samples)


@transaction.atomic
def stock_drifts_record(
    *, run_id: uuid.UUID, drifts: Iterable[DriftInput], detected_at: datetime | None = None
) -> list[StockDrift]:
    """Store what one reconciliation run found; drifts of earlier runs count as resolved.

    Call it once per run, also when the run found nothing, so the overview's
    "unresolved" count is exactly what the last run saw.
    """
    detected_at = detected_at or timezone.now()
    StockDrift.objects.filter(resolved=False).exclude(run_id=run_id).update(resolved=True)
    rows = [
        StockDrift(
            variant_id=drift["variant_id"],
            warehouse_id=drift.get("warehouse_id"),
            on_hand=drift["on_hand"],
            ledger_sum=drift["ledger_sum"],
            held_by_open_orders=drift.get("held_by_open_orders", 0),
            run_id=run_id,
            detected_at=detected_at,
        )
        for drift in drifts
    ]
    return StockDrift.objects.bulk_create(rows)


# --- Task retry and webhook replay -------------------------------------------------------


def task_retry(*, task_id: str, requested_by: User | None = None) -> TaskRetry:
    """Re-send a failed run of a project idempotent task with its original arguments."""
    result = task_result_get(task_id=task_id)
    if result.status != "FAILURE":
        raise InvalidStateError(
            "Only a failed task can be retried.", details={"state": result.status}
        )
    refusal = registry.refusal_reason(result.task_name)
    task = registry.project_task_get(result.task_name)
    if refusal or task is None:
        raise InvalidStateError(
            "Ops may only re-send the project's own idempotent tasks.",
            details={"task_name": result.task_name, "reason": refusal},
        )
    try:
        args = registry.positional_args(
            task, stored_args=result.task_args, stored_kwargs=result.task_kwargs
        )
    except registry.ArgumentsUnavailable as exc:
        raise InvalidStateError(
            "The original arguments of this run cannot be recovered.",
            details={"reason": str(exc)},
        ) from exc
    new_id = _publish_for_retry(task, args)
    retry = TaskRetry.objects.create(
        original_task_id=result.task_id,
        retry_task_id=new_id or "",
        task_name=task.name,
        args=args,
        requested_by=requested_by,
    )
    logger.info("ops re-sent %s[%s] as %s", task.name, result.task_id, new_id or "(eager)")
    return retry


def _publish_for_retry(task: Task, args: list[Any]) -> str | None:
    with broker.capture_published_ids() as ids:
        sent = publish(task, *args)
    if not sent:
        raise BrokerUnavailableError()
    return ids[0] if ids else None  # no id when tasks run eagerly (nothing is published)


def _webhook_process_task() -> Task:
    task = registry.project_task_get(WEBHOOK_TASK)
    if task is None:
        raise ApplicationError(
            "Webhook processing is not available in this deployment.",
            code="not_available",
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return task


@transaction.atomic
def webhook_replay(*, event_id: int) -> WebhookEvent:
    """Apply a stored event again: a failed one goes back to ``received``, then its task
    is sent after commit. Processing is idempotent, so replaying a done event is harmless."""
    task = _webhook_process_task()
    event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
    if event is None:
        raise NotFoundError("No webhook event with this id.")
    if event.status == WebhookEvent.Status.FAILED:
        event.status = WebhookEvent.Status.RECEIVED
        event.save(update_fields=["status"])
    enqueue_on_commit(task, event.pk)
    return event
