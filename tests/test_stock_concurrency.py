"""Concurrent staff stock adjustments on real PostgreSQL: no oversell, ledger always agrees.

Each thread posts to ``/api/v1/variants/{id}/adjust-stock/`` on its own database
connection, all released at once by a barrier. The stock row lock in
``stock_apply`` must serialise them: ``on_hand`` never goes below zero, every
refusal is a 409 ``out_of_stock``, and ``on_hand`` equals the ledger sum.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from rest_framework.test import APIClient

from apps.accounts.factories import jwt_token
from apps.accounts.models import User
from apps.catalog import services
from apps.catalog.models import Stock, StockMovement, Variant
from tests.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


def _staff_token() -> str:
    staff = User.objects.create_user(
        email="stock-staff@example.com", password="irrelevant-passphrase-1", is_staff=True
    )
    return jwt_token(staff)


def _variant(on_hand: int) -> Variant:
    category = services.category_create(name="Concurrency")
    product = services.product_create(category=category, name="Contended")
    variant = services.variant_create(
        product=product, sku="CONTENDED-1", name="One", price=Decimal("9.99")
    )
    if on_hand:
        services.variant_stock_adjust(variant=variant, quantity=on_hand, reason="receive")
    return variant


def _adjust(token: str, variant: Variant, quantity: int) -> Callable[[], tuple[int, str | None]]:
    def job() -> tuple[int, str | None]:
        client = APIClient()  # one per thread: test clients are not thread-safe
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = client.post(
            f"/api/v1/variants/{variant.pk}/adjust-stock/",
            {"quantity": quantity, "reason": "adjust"},
            format="json",
        )
        return response.status_code, response.json().get("error")

    return job


def _ledger(variant: Variant) -> int:
    return int(
        StockMovement.objects.filter(variant=variant).aggregate(total=Sum("quantity"))["total"] or 0
    )


def test_postgres_is_in_use() -> None:
    assert connection.vendor == "postgresql"


def test_concurrent_takes_never_oversell() -> None:
    token = _staff_token()
    variant = _variant(on_hand=10)
    results = run_together([_adjust(token, variant, -3) for _ in range(THREADS)])
    statuses = sorted(status for status, _ in results)
    assert statuses.count(200) == 3  # 10 -> 7 -> 4 -> 1, then nothing more fits
    assert statuses.count(409) == THREADS - 3
    assert {error for status, error in results if status == 409} == {"out_of_stock"}
    on_hand = Stock.objects.get(variant=variant).on_hand
    assert on_hand == 1
    assert on_hand == _ledger(variant)
    assert StockMovement.objects.filter(variant=variant).count() == 1 + 3


def test_mixed_concurrent_adjustments_keep_the_ledger_and_stay_non_negative() -> None:
    token = _staff_token()
    variant = _variant(on_hand=5)
    deltas = [(-4 if n % 2 else 3) for n in range(THREADS)]  # 10 takes of 4, 10 receipts of 3
    results = run_together([_adjust(token, variant, delta) for delta in deltas])
    accepted = [delta for delta, (status, _) in zip(deltas, results, strict=True) if status == 200]
    refused = [(status, error) for status, error in results if status != 200]
    assert all(status == 409 and error == "out_of_stock" for status, error in refused)
    assert all(
        delta < 0 for delta, (status, _) in zip(deltas, results, strict=True) if status != 200
    )
    assert deltas.count(3) == sum(1 for delta in accepted if delta == 3)  # receipts always succeed
    on_hand = Stock.objects.get(variant=variant).on_hand
    assert on_hand == 5 + sum(accepted)
    assert on_hand >= 0
    assert on_hand == _ledger(variant)
    assert StockMovement.objects.filter(variant=variant).count() == 1 + len(accepted)
