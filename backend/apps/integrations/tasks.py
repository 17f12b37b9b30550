"""Webhook tasks (``webhooks`` queue; the sweep on ``maintenance``): load by id, call a service."""

from __future__ import annotations

from celery import shared_task

from apps.integrations import services
from workers.base import BaseTask


@shared_task(base=BaseTask, name="apps.integrations.tasks.webhook_deliver_task")
def webhook_deliver_task(delivery_id: int) -> None:
    # Retries are scheduled by the service on the delivery row (up to 24 h), not by Celery.
    services.delivery_attempt(delivery_id=delivery_id)


@shared_task(base=BaseTask, name="apps.integrations.tasks.webhook_redispatch_sweep_task")
def webhook_redispatch_sweep_task() -> int:
    return services.delivery_redispatch()
