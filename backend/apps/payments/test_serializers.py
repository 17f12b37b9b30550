"""Refund input: line numbers and quantities are JSON integers, money a string."""

from __future__ import annotations

import pytest

from apps.payments.serializers import RefundInputSerializer


@pytest.mark.parametrize("quantity", [1.0, "1", "1.0", True], ids=repr)
def test_a_refund_line_quantity_is_a_json_integer(quantity: object) -> None:
    """DRF's IntegerField took 1.0 and "1" (issue 8, bad-input suite)."""
    data = RefundInputSerializer(
        data={"restock": True, "lines": [{"sku": "A", "quantity": quantity}]}
    )
    assert not data.is_valid()
    assert "quantity" in data.errors["lines"][0]


@pytest.mark.parametrize("line_id", [1.0, "1", True], ids=repr)
def test_a_refund_line_id_is_a_json_integer(line_id: object) -> None:
    data = RefundInputSerializer(
        data={"restock": True, "lines": [{"line_id": line_id, "quantity": 1}]}
    )
    assert not data.is_valid()
    assert "line_id" in data.errors["lines"][0]


@pytest.mark.parametrize("amount", [5, 5.0], ids=repr)
def test_a_refund_amount_sent_as_a_number_is_refused(amount: object) -> None:
    data = RefundInputSerializer(data={"amount": amount})
    assert not data.is_valid()
    assert "amount" in data.errors


def test_a_well_formed_refund_passes() -> None:
    data = RefundInputSerializer(
        data={"amount": "5.00", "restock": True, "lines": [{"line_id": 3, "quantity": 2}]}
    )
    assert data.is_valid(), data.errors
