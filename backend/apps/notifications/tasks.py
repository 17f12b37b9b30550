"""Email tasks (``emails`` queue; the sweep on ``maintenance``): load by id, call the service."""

from __future__ import annotations

from celery import shared_task

from apps.notifications import services
from workers.base import BaseTask


@shared_task(base=BaseTask, name="apps.notifications.tasks.order_email_send_task")
def order_email_send_task(email_log_id: int) -> None:
    services.email_send(email_log_id=email_log_id)


@shared_task(base=BaseTask, name="apps.notifications.tasks.email_redispatch_sweep_task")
def email_redispatch_sweep_task() -> int:
    return services.email_redispatch()
