"""apps.catalog.stock called directly: the lock order, the ledger, refusals, reconciliation."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from apps.catalog.factories import VariantFactory, ledger_sum, make_product, make_variant, on_hand
from apps.catalog.models import Stock, StockMovement
from apps.catalog.stock import (
    _on_hand_write,
    at_default,
    stock_apply,
    stock_lock,
    stock_reconcile,
    warehouse_default,
)
from apps.ops.models import StockDrift
from utils.errors import OutOfStockError

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
    wid = warehouse_default().pk
    assert f"variant={variant.pk} warehouse={wid} on_hand=7 ledger_sum=10" in caplog.text
    assert not StockDrift.objects.filter(variant=healthy).exists()

    Stock.objects.filter(variant=variant).update(on_hand=10)  # someone fixed it
    assert stock_reconcile() == []
    assert not StockDrift.objects.filter(resolved=False).exists()


def test_stock_lock_returns_the_rows_of_the_asked_variants_and_nothing_for_none() -> None:
    first = make_variant(product=make_product(prices=()), stock=3)
    second = make_variant(product=make_product(prices=()), stock=4)
    with transaction.atomic():
        locked = stock_lock(variant_ids=[second.pk, first.pk, second.pk])
        wid = warehouse_default().pk
        assert list(locked) == sorted([(first.pk, wid), (second.pk, wid)])  # ascending, once
        assert {key: row.on_hand for key, row in locked.items()} == {
            (first.pk, wid): 3,
            (second.pk, wid): 4,
        }
        assert stock_lock(variant_ids=[]) == {}


def test_stock_apply_changes_every_row_and_writes_one_movement_each() -> None:
    first = make_variant(product=make_product(prices=()), stock=5)
    second = make_variant(product=make_product(prices=()), stock=5)
    untouched = make_variant(product=make_product(prices=()), stock=5)
    with transaction.atomic():
        stock_apply(
            changes=at_default({first.pk: -2, second.pk: 3, 999_999: 0}), reason="adjust", note="n"
        )
    # One UPDATE writes each changed row its own value and leaves every other row alone.
    assert (on_hand(first), on_hand(second), on_hand(untouched)) == (3, 8, 5)
    assert (ledger_sum(first), ledger_sum(second)) == (3, 8)
    moves = StockMovement.objects.filter(reason="adjust").order_by("variant_id")
    assert [(m.variant_id, m.quantity, m.note) for m in moves] == [
        (first.pk, -2, "n"),
        (second.pk, 3, "n"),
    ]


def test_stock_apply_refuses_the_whole_change_if_one_variant_would_go_below_zero() -> None:
    plenty = make_variant(product=make_product(prices=()), stock=10)
    short = make_variant(product=make_product(prices=()), stock=1)
    before = StockMovement.objects.count()
    with pytest.raises(OutOfStockError) as caught, transaction.atomic():
        stock_apply(changes=at_default({plenty.pk: -1, short.pk: -2}), reason="sale")
    assert caught.value.code == "out_of_stock"
    assert caught.value.details["variants"] == [
        {
            "variant_id": short.pk,
            "warehouse_id": warehouse_default().pk,
            "requested": 2,
            "available": 1,
        }
    ]
    assert (on_hand(plenty), on_hand(short)) == (10, 1)  # nothing changed
    assert StockMovement.objects.count() == before


def test_stock_apply_refuses_a_variant_without_a_stock_row() -> None:
    variant = VariantFactory.create()  # no stock row
    with pytest.raises(OutOfStockError) as caught, transaction.atomic():
        stock_apply(changes=at_default({variant.pk: 1}), reason="receive")
    assert caught.value.details["variants"] == [
        {
            "variant_id": variant.pk,
            "warehouse_id": warehouse_default().pk,
            "requested": 0,
            "available": 0,
        }
    ]
    assert not Stock.objects.filter(variant=variant).exists()


def test_the_stock_write_of_no_rows_sends_no_statement(
    django_assert_num_queries: Any,
) -> None:
    with django_assert_num_queries(0):
        _on_hand_write([])
