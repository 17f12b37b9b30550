"""The Celery app: configured from Django settings (``CELERY_*``), tasks autodiscovered.

OpenTelemetry is initialised in each worker child process (after the fork), so
span exporters' background threads live in the process that uses them.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("storefront")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["workers"], related_name="schedules")


def _beat_schedule() -> dict[str, Any]:
    from workers.schedules import BEAT_SCHEDULE

    return BEAT_SCHEDULE


app.conf.beat_schedule = _beat_schedule()


@worker_process_init.connect
def _init_worker_telemetry(**_: Any) -> None:
    from utils.telemetry import setup_telemetry

    setup_telemetry(force=False)
