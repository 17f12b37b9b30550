"""Cross-cutting pieces that need a Django app: idempotency records, telemetry start."""

import sys

from django.apps import AppConfig


def _is_celery_worker() -> bool:
    argv = [arg.rsplit("/", 1)[-1] for arg in sys.argv]
    return bool(argv) and "celery" in argv[0] and "worker" in argv


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Celery worker children set telemetry up after the fork (workers.celery),
        # so the exporter thread lives in the process that uses it.
        if _is_celery_worker():
            return
        from utils.telemetry import setup_telemetry

        setup_telemetry()
