"""Payment outcomes and capture latency are counted once per settled payment, after commit."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from apps.orders.factories import order_create
from apps.payments.factories import latest_payment
from apps.payments.tasks import payment_capture_task

pytestmark = pytest.mark.django_db


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _capture(order: Any, callbacks: Any) -> None:
    with callbacks(execute=True):
        payment_capture_task.apply(args=[str(latest_payment(order).pk)])


def test_captures_and_declines_are_counted_with_the_capture_latency(
    django_capture_on_commit_callbacks: Any,
) -> None:
    captured = {"provider": "sandbox", "status": "captured"}
    failed = {"provider": "sandbox", "status": "failed"}
    before = (
        _value("storefront_payment_outcomes_total", **captured),
        _value("storefront_payment_outcomes_total", **failed),
        _value("storefront_payment_capture_seconds_count", provider="sandbox"),
    )
    paid = order_create()
    _capture(paid, django_capture_on_commit_callbacks)
    _capture(paid, django_capture_on_commit_callbacks)  # a redelivery changes nothing
    _capture(order_create(payment_method="tok_chargeDeclined"), django_capture_on_commit_callbacks)
    after = (
        _value("storefront_payment_outcomes_total", **captured),
        _value("storefront_payment_outcomes_total", **failed),
        _value("storefront_payment_capture_seconds_count", provider="sandbox"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]
    assert _value("storefront_payment_capture_seconds_sum", provider="sandbox") > 0
