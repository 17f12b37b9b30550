"""Fixtures for order tests: catalogue rows with stock, carts, a checkout body, and a
recorder of the tasks published after commit (instead of running them)."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from apps.cart.models import Cart
from apps.catalog.models import Variant
from apps.orders.testing import cart_create, variant_create


@pytest.fixture
def make_variant(db: None) -> Callable[..., Variant]:
    return variant_create


@pytest.fixture
def make_cart(db: None) -> Callable[..., Cart]:
    return cart_create


@pytest.fixture(autouse=True)
def published(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Tasks published on commit, as (task name, args); nothing is run."""
    sent: list[tuple[str, tuple[Any, ...]]] = []

    def record(task: Any, *ids: Any, **options: Any) -> bool:
        sent.append((task.name, ids))
        return True

    monkeypatch.setattr("workers.enqueue.publish", record)
    return sent


@pytest.fixture(autouse=True)
def payments_interface(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stand in for ``refund_create`` (recording its calls) and, until the payments app
    provides it, for ``payment_capture_task``: these tests check what orders ask of
    payments, not what payments does."""
    calls: list[dict[str, Any]] = []

    def refund_create(**kwargs: Any) -> None:
        calls.append(kwargs)

    services_module = _module_or_stub(monkeypatch, "apps.payments.services")
    monkeypatch.setattr(services_module, "refund_create", refund_create, raising=False)
    tasks_module = _module_or_stub(monkeypatch, "apps.payments.tasks")
    if not hasattr(tasks_module, "payment_capture_task"):
        capture = types.SimpleNamespace(name="apps.payments.tasks.payment_capture_task")
        monkeypatch.setattr(tasks_module, "payment_capture_task", capture, raising=False)
    return calls


def _module_or_stub(monkeypatch: pytest.MonkeyPatch, name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        stub = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, stub)
        return stub


@pytest.fixture
def real_refund_create(monkeypatch: pytest.MonkeyPatch, payments_interface: Any) -> None:
    """Undo the stand-in: this test checks the contract with the real payments service."""
    refunds = pytest.importorskip("apps.payments.services.refunds")
    monkeypatch.setattr("apps.payments.services.refund_create", refunds.refund_create)
