"""apps.catalog.stock called directly: the lock order, the ledger, refusals, reconciliation."""

from __future__ import annotations

import pytest

from apps.catalog.factories import make_product, make_variant
from apps.catalog.models import Stock
from apps.catalog.stock import stock_reconcile
from apps.ops.models import StockDrift

pytestmark = pytest.mark.django_db


def test_reconciliation_records_drift_without_overwriting_stock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    variant = make_variant(product=make_product(prices=()), stock=10)
    healthy = make_variant(product=make_product(prices=()), stock=4)
    Stock.objects.filter(variant=variant).update(on_hand=7)  # a change that skipped the ledger

    drifts = stock_reconcile()

    assert [d["variant_id"] for d in drifts] == [variant.pk]
    assert Stock.objects.get(variant=variant).on_hand == 7  # recorded, not "fixed"
    drift = StockDrift.objects.get(resolved=False)
    assert (drift.variant_id, drift.on_hand, drift.ledger_sum) == (variant.pk, 7, 10)
    assert f"variant={variant.pk} on_hand=7 ledger_sum=10" in caplog.text
    assert not StockDrift.objects.filter(variant=healthy).exists()

    Stock.objects.filter(variant=variant).update(on_hand=10)  # someone fixed it
    assert stock_reconcile() == []
    assert not StockDrift.objects.filter(resolved=False).exists()
