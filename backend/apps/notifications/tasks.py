"""Email tasks (``emails`` queue): load by id and call the service."""

from __future__ import annotations

from celery import shared_task

from apps.notifications import services
from workers.base import BaseTask


@shared_task(base=BaseTask, name="apps.notifications.tasks.order_email_send_task")
def order_email_send_task(email_log_id: int) -> None:
    services.email_send(email_log_id=email_log_id)
