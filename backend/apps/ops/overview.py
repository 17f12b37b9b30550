"""The ops overview: broker and worker state beside the database's view of stuck work.

One function builds the whole answer for ``GET /api/v1/ops/overview/`` and the
dashboard. Broker parts are read concurrently under one deadline; when the broker
or the workers cannot be reached their part says ``{"status": "unavailable",
"reason": ...}`` and the rest is still answered. A fixed number of queries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from apps.ops import broker, selectors, services
from apps.payments.models import WebhookEvent

HISTORY_WINDOW = timedelta(hours=1)
TASK_WINDOW = timedelta(hours=1)


def _queues_part(stats: Any) -> dict[str, Any]:
    if isinstance(stats, BaseException):
        return {"status": "unavailable", "reason": str(stats) or type(stats).__name__}
    items = [
        {
            "name": name,
            "depth": stat["depth"],
            "oldest_age_seconds": stat["oldest_age_seconds"],
            "oldest_age_reason": stat["oldest_age_reason"],
        }
        for name, stat in stats.items()
    ]
    return {"status": "ok", "items": items}


def _workers_part(workers: services.WorkersStatus) -> dict[str, Any]:
    if workers["status"] != "ok":
        return {"status": "unavailable", "reason": workers.get("reason", "")}
    return {"status": "ok", "items": workers["workers"]}


def _tasks_part(since: datetime) -> dict[str, Any]:
    items = selectors.task_outcomes_since(since=since)
    by_state: dict[str, int] = {}
    for item in items:
        by_state[item["state"]] = by_state.get(item["state"], 0) + item["count"]
    return {"since": since, "by_state": by_state, "items": items}


def _webhooks_part() -> dict[str, Any]:
    counts = selectors.status_counts(selectors.webhook_event_list())
    received = counts.get(WebhookEvent.Status.RECEIVED, 0)
    failed = counts.get(WebhookEvent.Status.FAILED, 0)
    return {"unprocessed": received + failed, "received": received, "failed": failed}


def _activity_part(now: datetime, history: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per-minute series of the last hour, oldest first: the last minute is the current one."""
    minutes = int(HISTORY_WINDOW.total_seconds() // 60)
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
    return {
        "window_minutes": minutes,
        "start": start,
        "checkouts": selectors.checkouts_per_minute(start=start, minutes=minutes),
        "task_outcomes": selectors.task_outcomes_per_minute(start=start, minutes=minutes),
        "queue_depth": selectors.queue_depth_per_minute(history, start=start, minutes=minutes),
    }


def _cache_part(outcome: Any) -> dict[str, Any]:
    if isinstance(outcome, BaseException):
        reason = str(outcome) if isinstance(outcome, broker.BrokerUnavailable) else ""
        return {"status": "unavailable", "reason": reason or type(outcome).__name__}
    return {"status": "ok"}


def overview_build(*, now: datetime | None = None) -> dict[str, Any]:
    """Everything ops check first, in one answer that never waits long on the broker
    or the cache (both are asked at once, under one deadline)."""
    from apps.ops.health import _check_cache

    now = now or timezone.now()
    cache_check = broker.bounded_start(
        {"cache": _check_cache}, deadline=broker.broker_timeout() + 1.0, label="the cache"
    )
    stats, workers = services.broker_snapshot()
    history = selectors.queue_history(since=now - HISTORY_WINDOW)
    return {
        "generated_at": now,
        "queues": _queues_part(stats),
        "workers": _workers_part(workers),
        "cache": _cache_part(cache_check()["cache"]),
        "tasks_last_hour": _tasks_part(now - TASK_WINDOW),
        "payments": {
            "stuck": selectors.payment_stuck_list(now=now).count(),
            "threshold_minutes": selectors.stuck_payment_minutes(),
        },
        "webhook_events": _webhooks_part(),
        "emails": {
            "queued_stale": selectors.email_queued_stale_count(now=now),
            "threshold_minutes": selectors.queued_email_minutes(),
        },
        "stock_drifts": selectors.stock_drift_summary(),
        "fulfilments": {
            "unshipped": selectors.fulfilment_unshipped_list(now=now).count(),
            "threshold_days": selectors.unshipped_fulfilment_days(),
        },
        "queue_history": {
            "window_minutes": int(HISTORY_WINDOW.total_seconds() // 60),
            "queues": broker.queue_names(),
            "series": history,
        },
        "activity": _activity_part(now, history),
    }
