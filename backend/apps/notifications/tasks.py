"""Email tasks (``emails`` queue; the sweep on ``maintenance``): load by id, call the service."""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings

from apps.notifications import services
from workers.base import BaseTask


@shared_task(base=BaseTask, bind=True, name="apps.notifications.tasks.order_email_send_task")
def order_email_send_task(self: Task, email_log_id: int, handed_over: bool = False) -> None:
    try:
        services.email_send(email_log_id=email_log_id, handed_over=handed_over)
    except services.EmailOutcomeNotRecorded as exc:
        # The backend has the email: the retry only records that, it never sends again.
        raise self.retry(
            exc=exc,
            kwargs={"email_log_id": email_log_id, "handed_over": True},
            countdown=settings.TASK_DB_RETRY_BACKOFF_MAX_SECONDS,
            max_retries=None,
        ) from exc


@shared_task(base=BaseTask, name="apps.notifications.tasks.email_redispatch_sweep_task")
def email_redispatch_sweep_task() -> int:
    return services.email_redispatch()
