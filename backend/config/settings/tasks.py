"""Celery, task retries and the sweeps: part of ``base.py`` (star-imported there), read
from the environment like the rest. ``dev.py``, ``test.py`` and ``prod.py`` override
these through ``base``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import environ
from celery.schedules import crontab
from kombu import Exchange, Queue

env = environ.Env()
REDIS_URL = env.str("REDIS_URL", default="")

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "memory://"
# django-celery-results' backend, retrying a lost database connection (workers/results.py).
CELERY_RESULT_BACKEND = "workers.results:RetryingDatabaseBackend"
CELERY_RESULT_BACKEND_ALWAYS_RETRY = True
CELERY_RESULT_BACKEND_MAX_RETRIES = 5
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = timedelta(days=env.int("CELERY_RESULT_DAYS", default=7))
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# No STARTED row per task: it doubled the result-table writes of every task (the
# stuck-work views read the domain rows: payments, refunds, emails, not task states).
CELERY_TASK_TRACK_STARTED = False
# Celery's Django fixup closes every database connection before and after each task
# unless this is set; then it does so every this-many tasks only, and
# workers/celery.py closes old or broken connections like a request does
# (CONN_MAX_AGE, health checks). Reconnecting per task cost more than the task.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing happens in requests: a broker that is down must cost at most ~1 s.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
# A worker whose broker connection drops reconnects, forever, rather than exit; the
# tasks it was running are cancelled (acks_late: redelivered, and idempotent).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
QUEUE_NAMES = ("default", "payments", "emails", "maintenance", "webhooks")


def is_amqp(broker_url: str) -> bool:
    return broker_url.split("://", 1)[0] in {"amqp", "amqps", "pyamqp"}


def task_queues(broker_url: str) -> list[Queue]:
    """The project's queues. On RabbitMQ: quorum queues (replicated, and a message a
    dead consumer held is redelivered as soon as its connection closes) behind topic
    exchanges, which Celery's native delayed delivery needs for countdowns."""
    if is_amqp(broker_url):
        quorum = {"x-queue-type": "quorum"}
        return [
            Queue(name, Exchange(name, type="topic"), routing_key=name, queue_arguments=quorum)
            for name in QUEUE_NAMES
        ]
    return [Queue(name, Exchange(name), routing_key=name) for name in QUEUE_NAMES]


def transport_options(broker_url: str) -> dict[str, Any]:
    if is_amqp(broker_url):
        # Publisher confirms: a publish returns once RabbitMQ has the message.
        return {"confirm_publish": True, "connect_timeout": 1, "max_retries": 1}
    # Redis: longer than any countdown or retry delay the project uses (max backoff
    # 600 s), so a late-acked message is not redelivered while its retry waits; the
    # health check notices a dead connection between messages.
    return {
        "visibility_timeout": 3600,
        "socket_connect_timeout": 1,
        "socket_timeout": 5,
        "max_retries": 1,
        "health_check_interval": 10,
        "retry_on_timeout": True,
    }


CELERY_BROKER_TRANSPORT_OPTIONS = transport_options(CELERY_BROKER_URL)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = task_queues(CELERY_BROKER_URL)
# First match wins: every app's sweeps run on "maintenance", whatever their app's queue.
CELERY_TASK_ROUTES = {
    "*_sweep_task": {"queue": "maintenance"},
    "apps.payments.tasks.*": {"queue": "payments"},
    "apps.notifications.tasks.*": {"queue": "emails"},
    "apps.integrations.tasks.*": {"queue": "webhooks"},
    "apps.ops.tasks.*": {"queue": "maintenance"},
    "apps.catalog.tasks.*": {"queue": "maintenance"},
    "apps.core.tasks.*": {"queue": "maintenance"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Retries of transient failures: exponential from this base, capped, with full jitter.
TASK_RETRY_BACKOFF_SECONDS = env.int("TASK_RETRY_BACKOFF_SECONDS", default=2)
TASK_RETRY_BACKOFF_MAX_SECONDS = env.int("TASK_RETRY_BACKOFF_MAX_SECONDS", default=600)
TASK_MAX_RETRIES = env.int("TASK_MAX_RETRIES", default=5)
# A lost database connection retries sooner: work resumes within seconds of its return.
TASK_DB_RETRY_BACKOFF_MAX_SECONDS = env.int("TASK_DB_RETRY_BACKOFF_MAX_SECONDS", default=5)
# Sweeps (each app's tasks.py): how often beat runs the minute sweeps, and when
# a row whose task never ran (or went silent) is sent again.
SWEEP_INTERVAL_SECONDS = env.int("SWEEP_INTERVAL_SECONDS", default=60)
REDISPATCH_AFTER_SECONDS = env.int("REDISPATCH_AFTER_SECONDS", default=60)
# An attempt that started longer ago than the hard time limit (+10 s) with no retry
# scheduled lost its worker: sent again within this plus one sweep interval (< 3 min).
REDISPATCH_STALE_ATTEMPT_SECONDS = env.int(
    "REDISPATCH_STALE_ATTEMPT_SECONDS", default=CELERY_TASK_TIME_LIMIT + 10
)
# When a queue's backlog age cannot be read, only rows overdue this long are sent again.
REDISPATCH_BACKLOG_GUARD_SECONDS = env.int("REDISPATCH_BACKLOG_GUARD_SECONDS", default=600)


def _sweep(task: str, schedule: float | crontab, expires: float) -> dict[str, Any]:
    """A beat entry on "maintenance"; a run that waited past ``expires`` is dropped."""
    options = {"queue": "maintenance", "expires": expires}
    return {"task": task, "schedule": schedule, "options": options}


_MINUTE, _MINUTE_EXPIRES = float(SWEEP_INTERVAL_SECONDS), max(1.0, SWEEP_INTERVAL_SECONDS - 5.0)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "payment-deadline-sweep": _sweep(
        "apps.orders.tasks.order_expire_sweep_task", _MINUTE, _MINUTE_EXPIRES
    ),
    "payment-redispatch-sweep": _sweep(
        "apps.payments.tasks.payment_redispatch_sweep_task", _MINUTE, _MINUTE_EXPIRES
    ),
    "email-redispatch-sweep": _sweep(
        "apps.notifications.tasks.email_redispatch_sweep_task", _MINUTE, _MINUTE_EXPIRES
    ),
    "webhook-redispatch-sweep": _sweep(
        "apps.integrations.tasks.webhook_redispatch_sweep_task", _MINUTE, _MINUTE_EXPIRES
    ),
    "queue-sample": _sweep("apps.ops.tasks.queue_sample_task", _MINUTE, _MINUTE_EXPIRES),
    "stock-reconcile": _sweep("apps.catalog.tasks.stock_reconcile_task", crontab(minute=7), 3000),
    "purge": _sweep("apps.core.tasks.purge_sweep_task", crontab(hour=3, minute=17), 3600),
}
