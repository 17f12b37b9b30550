"""Test data for ops tests (other apps' rows through their factories, task results as
django-celery-results stores them) and a look into the memory broker.

Imported by tests only; never by application code.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django_celery_results.models import TaskResult

from apps.catalog.factories import VariantFactory
from apps.catalog.models import Variant
from apps.orders.factories import OrderFactory
from apps.orders.models import Order
from apps.payments.factories import PaymentFactory
from apps.payments.models import Payment
from workers.celery import app


def memory_messages(queue: str) -> list[dict[str, Any]]:
    """The messages waiting in a memory queue (headers and decoded body), oldest first."""
    with app.connection_for_read("memory://") as conn:
        channel: Any = conn.default_channel
        waiting = list(channel._queue_for(queue).queue)
    return waiting


def order_make(*, status: str = Order.Status.PENDING_PAYMENT, total: str = "20.00") -> Order:
    return OrderFactory.create(status=status, subtotal=Decimal(total))


def payment_make(
    *,
    order: Order | None = None,
    status: str = Payment.Status.PENDING,
    age: timedelta = timedelta(0),
    failure_code: str = "",
    failure_message: str = "",
    last_attempt_age: timedelta | None = None,
) -> Payment:
    payment = PaymentFactory.create(
        order=order or order_make(),
        status=status,
        failure_code=failure_code,
        failure_message=failure_message,
    )
    now = timezone.now()
    last_attempt = None if last_attempt_age is None else now - last_attempt_age
    Payment.objects.filter(pk=payment.pk).update(created_at=now - age, last_attempt_at=last_attempt)
    payment.refresh_from_db()
    return payment


def variant_make(sku: str) -> Variant:
    """A variant without a stock row (what a variant made outside the services looks like)."""
    return VariantFactory.create(sku=sku, name=sku, price=Decimal("5.00"))


def task_result_make(
    *,
    name: str = "apps.ops.tasks.worker_probe_complete_task",
    status: str = "FAILURE",
    args: tuple[Any, ...] = ("probe-id",),
    kwargs: dict[str, Any] | None = None,
    created: datetime | None = None,
    traceback: str = "Traceback (most recent call last):\nValueError: boom",
) -> TaskResult:
    """A result stored the way django-celery-results stores it with ``result_extended``."""
    result = TaskResult.objects.create(
        task_id=str(uuid.uuid4()),
        task_name=name,
        task_args=json.dumps(repr(args)),
        task_kwargs=json.dumps(repr(kwargs or {})),
        status=status,
        worker="celery@test",
        traceback=traceback if status == "FAILURE" else None,
        date_done=timezone.now(),
    )
    if created is not None:
        TaskResult.objects.filter(pk=result.pk).update(date_created=created)
    return result
