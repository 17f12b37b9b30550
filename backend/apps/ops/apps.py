"""The ops app: monitoring, health probes, metrics and the ops dashboard."""

from __future__ import annotations

from django.apps import AppConfig


class OpsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.ops"

    def ready(self) -> None:
        from celery.signals import before_task_publish

        from apps.ops import task_metrics
        from apps.ops.broker import stamp_sent_at

        # Every process that publishes (web and workers) stamps messages with
        # their send time, so ops can read the age of a queue's oldest message.
        before_task_publish.connect(stamp_sent_at, weak=False, dispatch_uid="ops-stamp-sent-at")
        # Tasks started, succeeded, failed, retried and their run time, counted by the
        # process that runs them (/metrics exports them).
        task_metrics.connect()
