"""The payment-deadline sweep: expired orders cancelled, stock released, bounded per run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from apps.catalog.models import Stock, StockMovement
from apps.notifications.models import EmailLog
from apps.orders.factories import order_create
from apps.orders.models import Order
from apps.orders.services import order_expire_overdue

pytestmark = pytest.mark.django_db


def _past(seconds: int) -> Any:
    return timezone.now() - timedelta(seconds=seconds)


def test_deadline_sweep_cancels_expired_orders_and_releases_stock() -> None:
    order = order_create()
    variant_ids = [line.variant_id for line in order.lines.all()]
    before = {s.variant_id: s.on_hand for s in Stock.objects.filter(variant_id__in=variant_ids)}
    fresh = order_create()
    Order.objects.filter(pk=order.pk).update(payment_deadline=_past(1))

    with mock.patch("workers.enqueue.publish"):
        cancelled = order_expire_overdue()

    assert cancelled == [str(order.pk)]
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    after = {s.variant_id: s.on_hand for s in Stock.objects.filter(variant_id__in=variant_ids)}
    for line in order.lines.all():
        assert after[line.variant_id] == before[line.variant_id] + line.quantity
    assert StockMovement.objects.filter(order=order, reason="release").exists()
    assert EmailLog.objects.filter(order=order, kind="order_cancelled").exists()
    assert Order.objects.get(pk=fresh.pk).status == Order.Status.PENDING_PAYMENT
    assert order_expire_overdue() == []  # nothing left: a second run is a no-op


def test_deadline_sweep_is_bounded_per_run() -> None:
    for _ in range(3):
        order = order_create()
        Order.objects.filter(pk=order.pk).update(payment_deadline=_past(1))
    with mock.patch("workers.enqueue.publish"):
        assert len(order_expire_overdue(limit=2)) == 2
        assert len(order_expire_overdue(limit=2)) == 1
