"""Fixtures for order tests: catalogue rows with stock, carts, and a recorder of the
tasks published after commit (instead of running them). Payments are the real app."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

from apps.cart.factories import cart_create
from apps.cart.models import Cart
from apps.catalog.factories import variant_create
from apps.catalog.models import Variant


@pytest.fixture
def make_variant(db: None) -> Callable[..., Variant]:
    """``variant_create`` with 5 units unless a test says otherwise."""
    return functools.partial(variant_create, stock=5)


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
