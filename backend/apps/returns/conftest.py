"""Fixtures for return tests: catalogue rows with stock, a second warehouse, shipped orders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.catalog.factories import variant_create
from apps.catalog.models import Variant, Warehouse
from apps.notifications.models import EmailLog
from apps.orders.models import Order
from apps.returns.factories import order_shipped


@pytest.fixture
def tee(db: None) -> Variant:
    return variant_create(sku="TEE", price="10.00", stock=10)


@pytest.fixture
def mug(db: None) -> Variant:
    return variant_create(sku="MUG", price="5.00", stock=10)


@pytest.fixture
def warehouse_b(db: None) -> Warehouse:
    return Warehouse.objects.create(code="b", name="Warehouse B", country="DE", priority=5)


@pytest.fixture
def shipped_order() -> Callable[..., Order]:
    return order_shipped


def returns_url(order: Order) -> str:
    return f"/api/v1/orders/{order.pk}/returns/"


def step_url(number: str, step: str) -> str:
    return f"/api/v1/returns/{number}/{step}/"


def emails(order: Order) -> list[tuple[str, str]]:
    """(kind, reference) of every email queued for the order, oldest first."""
    return list(
        EmailLog.objects.filter(order=order).order_by("pk").values_list("kind", "reference")
    )


def post(client: APIClient, url: str, body: Any = None, **headers: Any) -> Any:
    return client.post(url, body if body is not None else {}, format="json", **headers)
