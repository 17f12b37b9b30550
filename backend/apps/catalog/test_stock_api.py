"""Staff stock adjustments and the ledger: on_hand always equals the sum of the movements."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.catalog import services
from apps.catalog.factories import ledger_sum, make_product, on_hand
from apps.catalog.models import Stock, StockMovement, Variant
from apps.catalog.stock import warehouse_default
from utils.errors import ApplicationError, OutOfStockError

pytestmark = pytest.mark.django_db


def _url(variant: Variant, action: str) -> str:
    return f"/api/v1/variants/{variant.pk}/{action}/"


@pytest.fixture
def variant() -> Variant:
    return make_product(prices=("10.00",), stock=5).variants.get()


def test_receive_and_adjust_write_the_ledger(
    staff_client: APIClient, staff: User, variant: Variant
) -> None:
    received = staff_client.post(
        _url(variant, "adjust-stock"),
        {"quantity": 7, "reason": "receive", "note": "PO-42"},
        format="json",
    )
    assert received.status_code == 200, received.content
    assert received.json()["available"] == 12
    adjusted = staff_client.post(
        _url(variant, "adjust-stock"), {"quantity": -2, "reason": "adjust"}, format="json"
    )
    assert adjusted.json()["available"] == 10
    assert on_hand(variant) == 10 == ledger_sum(variant)
    latest = StockMovement.objects.filter(variant=variant).order_by("-id")[:2]
    assert [(m.quantity, m.reason, m.actor_id) for m in latest] == [
        (-2, "adjust", staff.pk),
        (7, "receive", staff.pk),
    ]
    assert latest[1].note == "PO-42"


def test_going_below_zero_is_409_out_of_stock_and_writes_nothing(
    staff_client: APIClient, variant: Variant
) -> None:
    movements = StockMovement.objects.count()
    response = staff_client.post(
        _url(variant, "adjust-stock"), {"quantity": -6, "reason": "adjust"}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "out_of_stock"
    assert body["details"]["variants"] == [
        {
            "variant_id": variant.pk,
            "warehouse_id": warehouse_default().pk,
            "requested": 6,
            "available": 5,
        }
    ]
    assert on_hand(variant) == 5 == ledger_sum(variant)
    assert StockMovement.objects.count() == movements


def test_taking_the_last_unit_leaves_zero(staff_client: APIClient, variant: Variant) -> None:
    response = staff_client.post(
        _url(variant, "adjust-stock"), {"quantity": -5, "reason": "adjust"}, format="json"
    )
    assert response.json()["available"] == 0
    assert response.json()["in_stock"] is False
    assert on_hand(variant) == 0 == ledger_sum(variant)


@pytest.mark.parametrize(
    "body",
    [
        {"quantity": 0, "reason": "adjust"},
        {"quantity": 1.5, "reason": "adjust"},
        {"quantity": "3", "reason": "adjust"},
        {"quantity": "1e9", "reason": "adjust"},
        {"quantity": True, "reason": "adjust"},
        {"quantity": 2**63, "reason": "adjust"},
        {"quantity": 1_000_001, "reason": "receive"},
        {"quantity": 3, "reason": "sale"},
        {"quantity": 3, "reason": "restock"},
        {"quantity": -3, "reason": "receive"},
        {"quantity": 3},
        {"reason": "adjust"},
        {"quantity": 3, "reason": "adjust", "on_hand": 100},
        {"quantity": 3, "reason": "adjust", "note": "x" * 501},
    ],
)
def test_refused_adjustments_are_validation_errors_and_change_nothing(
    staff_client: APIClient, variant: Variant, body: dict
) -> None:
    response = staff_client.post(_url(variant, "adjust-stock"), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "validation_error"
    assert on_hand(variant) == 5 == ledger_sum(variant)
    assert StockMovement.objects.filter(variant=variant).count() == 1


def test_on_hand_cannot_overflow_the_column(variant: Variant) -> None:
    Stock.objects.filter(variant=variant).update(on_hand=services.MAX_ON_HAND - 1)
    with pytest.raises(ApplicationError) as excinfo:
        services.variant_stock_adjust(variant=variant, quantity=2, reason="receive")
    assert excinfo.value.code == "validation_error"
    assert on_hand(variant) == services.MAX_ON_HAND - 1


def test_adjusting_a_variant_without_a_stock_row_creates_it(variant: Variant) -> None:
    StockMovement.objects.filter(variant=variant).delete()
    Stock.objects.filter(variant=variant).delete()
    assert services.variant_stock_adjust(variant=variant, quantity=4, reason="receive") == 4
    assert on_hand(variant) == 4 == ledger_sum(variant)


def test_ledger_invariant_holds_after_a_series_of_adjustments(variant: Variant) -> None:
    refused = 0
    for quantity in [3, -8, -1, 20, -19, -1, -1, 7, -15, 2, -100]:
        try:
            services.variant_stock_adjust(variant=variant, quantity=quantity, reason="adjust")
        except OutOfStockError:
            refused += 1
        assert on_hand(variant) == ledger_sum(variant) >= 0
    # 5 +3=8 -8=0 (-1 refused) +20=20 -19=1 -1=0 (-1 refused) +7=7 (-15 refused) +2=9 (-100 refused)
    assert refused == 4
    assert on_hand(variant) == 9


def test_movements_are_paginated_newest_first(staff_client: APIClient, variant: Variant) -> None:
    for quantity in range(1, 25):
        services.variant_stock_adjust(variant=variant, quantity=quantity, reason="receive")
    first = staff_client.get(_url(variant, "movements")).json()
    assert first["count"] == 25
    assert [m["quantity"] for m in first["results"][:3]] == [24, 23, 22]
    assert first["results"][0]["reason"] == "receive"
    assert first["results"][0]["variant_id"] == variant.pk
    last = staff_client.get(_url(variant, "movements"), {"page": 2}).json()
    assert [m["quantity"] for m in last["results"]][-1] == 5  # the initial receipt
    too_big = staff_client.get(_url(variant, "movements"), {"page_size": 101})
    assert too_big.status_code == 400


def test_movements_of_another_variant_are_not_shown(
    staff_client: APIClient, variant: Variant
) -> None:
    other = make_product(stock=3).variants.get()
    body = staff_client.get(_url(other, "movements")).json()
    assert [(m["variant_id"], m["quantity"]) for m in body["results"]] == [(other.pk, 3)]
