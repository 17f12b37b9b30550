"""Money parsing: exact, two places, strings only; property-based where it matters."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import serializers

from utils.decimal_utils import (
    MAX_AMOUNT,
    MoneyError,
    line_total,
    money_sum,
    parse_money,
    quantize,
    to_str,
)
from utils.serializers import MoneyField

cents = st.integers(min_value=0, max_value=int(MAX_AMOUNT * 100))


@given(cents)
def test_every_two_place_string_round_trips_exactly(value: int) -> None:
    text = f"{value // 100}.{value % 100:02d}"
    parsed = parse_money(text)
    assert isinstance(parsed, Decimal)
    assert parsed == Decimal(value) / 100
    assert to_str(parsed) == text


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_are_always_refused(value: float) -> None:
    with pytest.raises(MoneyError):
        parse_money(value)


@given(cents, st.integers(min_value=1, max_value=9))
def test_more_than_two_significant_places_is_refused(value: int, extra: int) -> None:
    text = f"{value // 100}.{value % 100:02d}{extra}"
    with pytest.raises(MoneyError, match="two decimal places"):
        parse_money(text)


@given(st.integers(min_value=1, max_value=10**9))
def test_negatives_refused_unless_allowed(value: int) -> None:
    text = f"-{value}.00"
    with pytest.raises(MoneyError, match="negative"):
        parse_money(text)
    assert parse_money(text, allow_negative=True) == -Decimal(value)


@given(st.lists(cents, max_size=50), st.integers(min_value=1, max_value=99))
def test_sums_and_line_totals_are_exact(values: list[int], qty: int) -> None:
    amounts = [Decimal(v) / 100 for v in values]
    assert money_sum(amounts) == Decimal(sum(values)) / 100
    if amounts:
        assert line_total(amounts[0], qty) == Decimal(values[0] * qty) / 100


@pytest.mark.parametrize(
    "bad",
    [
        "NaN",
        "nan",
        "Infinity",
        "-inf",
        "1e3",
        "1E-2",
        "12,50",
        "",
        " ",
        "0x10",
        "1.2.3",
        ".5",
        "١٢",
        None,
        [],
        {},
        True,
    ],
)
def test_non_plain_notation_is_refused(bad: object) -> None:
    with pytest.raises(MoneyError):
        parse_money(bad)


def test_decimal_nan_and_infinity_are_refused() -> None:
    for bad in (Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")):
        with pytest.raises(MoneyError):
            parse_money(bad)


def test_trailing_zero_places_are_accepted_and_normalised() -> None:
    assert parse_money("12.5000") == Decimal("12.50")
    assert to_str(parse_money("7")) == "7.00"
    assert to_str(parse_money("-0.00", allow_negative=True)) == "0.00"


def test_zero_can_be_refused_and_upper_bound_holds() -> None:
    with pytest.raises(MoneyError, match="more than zero"):
        parse_money("0.00", allow_zero=False)
    with pytest.raises(MoneyError, match="exceed"):
        parse_money("10000000000.00")


def test_quantize_rounds_half_up() -> None:
    assert quantize(Decimal("0.005")) == Decimal("0.01")
    assert quantize(Decimal("2.675")) == Decimal("2.68")
    with pytest.raises(MoneyError):
        quantize(1.5)  # type: ignore[arg-type]


class _PriceSerializer(serializers.Serializer):
    price = MoneyField()


def test_money_field_refuses_json_numbers_and_renders_strings() -> None:
    bad = _PriceSerializer(data={"price": 19.99})
    assert not bad.is_valid()
    assert "string" in str(bad.errors["price"][0])
    good = _PriceSerializer(data={"price": "19.99"})
    assert good.is_valid(), good.errors
    assert good.validated_data["price"] == Decimal("19.99")
    assert _PriceSerializer({"price": Decimal("5")}).data == {"price": "5.00"}


@pytest.mark.parametrize("value", [5, 0, -3, True, Decimal("5.00"), None, ["5.00"]])
def test_money_field_refuses_anything_but_a_string(value: object) -> None:
    """A JSON integer is a number too: money comes as "5.00" (issue 8, found by the
    bad-input suite: a refund of ``{"amount": 5}`` was accepted)."""
    bad = _PriceSerializer(data={"price": value})
    assert not bad.is_valid()
    assert "price" in bad.errors


@given(cents)
def test_every_rendered_amount_matches_the_schema_pattern(value: int) -> None:
    import re

    from utils.decimal_utils import money_pattern

    text = to_str(Decimal(value) / 100)
    assert re.match(money_pattern(), text)
    assert re.match(money_pattern(allow_negative=True), "-" + text)
    assert parse_money(text) == Decimal(text)


def test_the_schema_pattern_refuses_what_parse_money_refuses() -> None:
    import re

    from utils.decimal_utils import money_pattern

    for text in ("1e3", "1.234", "NaN", "-1.00", "1,00", ".5", ""):
        assert not re.match(money_pattern(), text), text
