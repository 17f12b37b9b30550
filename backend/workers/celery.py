"""The Celery app: configured from Django settings (``CELERY_*``, the beat schedule too),
tasks autodiscovered from each app. Nothing here imports an app.

OpenTelemetry is initialised in each worker child process (after the fork), so
span exporters' background threads live in the process that uses them.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init

from workers.broker_guard import redis_transport_guard

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

redis_transport_guard()  # a Redis death mid-delivery must not end the worker (see there)

app = Celery("storefront")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # each app's tasks.py; the beat schedule is CELERY_BEAT_SCHEDULE


@worker_process_init.connect
def _init_worker_telemetry(**_: Any) -> None:
    from utils.telemetry import setup_telemetry

    setup_telemetry(force=False)


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(sender: Any = None, **_: Any) -> None:
    """What Django does around each request: drop connections past ``CONN_MAX_AGE``,
    broken ones, and ones left in a failed transaction; keep the rest (Celery's own
    fixup only closes every ``CELERY_DB_REUSE_MAX`` tasks, see the settings).
    An eager task runs inside its caller's request or transaction: left alone."""
    from django.db import close_old_connections, connections

    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    if any(conn.in_atomic_block for conn in connections.all(initialized_only=True)):
        return
    close_old_connections()
