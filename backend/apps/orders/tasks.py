"""Order tasks (``maintenance`` queue): the payment-deadline sweep, run by beat."""

from __future__ import annotations

from celery import shared_task

from apps.orders import services
from workers.base import BaseTask


@shared_task(base=BaseTask, name="apps.orders.tasks.order_expire_sweep_task")
def order_expire_sweep_task() -> int:
    return len(services.order_expire_overdue())
