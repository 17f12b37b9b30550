"""Payment tasks (the ``payments`` queue, by ``CELERY_TASK_ROUTES``): load by id, call a service.

Each service re-reads its row under a lock and does nothing if the work is done,
so a redelivered task is harmless. A transient failure (provider unavailable, a
lost database connection) retries with exponential backoff and full jitter;
before the retry is published the row records it (``next_attempt_at``), so the
re-dispatch sweep knows the row is waiting, not lost. On the last allowed attempt
the service records a provider failure instead.
"""

from __future__ import annotations

from datetime import datetime

from celery import Task, shared_task

from apps.payments import services
from workers.base import BaseTask


def _final_attempt(task: Task) -> bool:
    """True on the last run ``max_retries`` allows: record the failure, do not retry."""
    return task.max_retries is not None and task.request.retries >= task.max_retries


class PaymentCaptureTask(BaseTask):
    def retry_scheduled(self, eta: datetime) -> None:
        services.payment_retry_scheduled(payment_id=(self.request.args or [None])[0], at=eta)


class RefundProcessTask(BaseTask):
    def retry_scheduled(self, eta: datetime) -> None:
        services.refund_retry_scheduled(refund_id=(self.request.args or [None])[0], at=eta)


@shared_task(base=PaymentCaptureTask, bind=True, name="apps.payments.tasks.payment_capture_task")
def payment_capture_task(self: Task, payment_id: str) -> None:
    services.payment_capture(payment_id=payment_id, final_attempt=_final_attempt(self))


@shared_task(base=BaseTask, name="apps.payments.tasks.payment_cancel_task")
def payment_cancel_task(payment_id: str) -> None:
    services.payment_cancel_at_provider(payment_id=payment_id)


@shared_task(base=RefundProcessTask, bind=True, name="apps.payments.tasks.refund_process_task")
def refund_process_task(self: Task, refund_id: str) -> None:
    services.refund_process(refund_id=refund_id, final_attempt=_final_attempt(self))


@shared_task(base=BaseTask, name="apps.payments.tasks.payment_redispatch_sweep_task")
def payment_redispatch_sweep_task() -> dict[str, int]:
    return services.payment_work_redispatch()


@shared_task(base=BaseTask, name="apps.payments.tasks.webhook_event_process_task")
def webhook_event_process_task(event_pk: int) -> None:
    services.webhook_event_process(event_pk=event_pk)
