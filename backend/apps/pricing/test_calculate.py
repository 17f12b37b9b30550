"""The pure pricing function: worked examples, then properties checked by hypothesis
(totals are sums of lines, nothing negative, discounts within what they discount,
net + tax = gross on every line). No database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.pricing.calculate import price_cart, share_fixed
from apps.pricing.errors import ShippingUnavailableError
from apps.pricing.info import (
    CartInfo,
    LineInfo,
    PromotionInfo,
    ShippingMethodInfo,
    Tier,
    VoucherInfo,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
D = Decimal


def _line(n: int, price: str, qty: int = 1, **kw: object) -> LineInfo:
    fields: dict[str, object] = {
        "line_id": n,
        "variant_id": n,
        "product_id": n,
        "category_id": 1,
        "quantity": qty,
        "unit_price": D(price),
    }
    fields.update(kw)
    return LineInfo(**fields)  # type: ignore[arg-type]


FLAT = ShippingMethodInfo(1, "standard", "Standard", "EU", "flat", D("4.90"), free_over=D("100.00"))


def _info(*lines: LineInfo, include_tax: bool = True, **kw: object) -> CartInfo:
    fields: dict[str, object] = {
        "currency": "EUR",
        "lines": lines,
        "prices_include_tax": include_tax,
        "country": "DE",
        "tax_rates": {"standard": D("19.00"), "reduced": D("7.00")},
    }
    fields.update(kw)
    return CartInfo(**fields)  # type: ignore[arg-type]


def test_gross_prices_are_split_into_net_and_tax_per_line() -> None:
    priced = price_cart(
        _info(_line(1, "19.99", 2), _line(2, "10.70", 1, tax_class="reduced")),
        method=FLAT,
        voucher=None,
        now=NOW,
    )
    first, second = priced.lines
    assert (first.gross, first.net, first.tax) == (D("39.98"), D("33.60"), D("6.38"))
    assert (second.gross, second.net, second.tax) == (D("10.70"), D("10.00"), D("0.70"))
    assert priced.shipping is not None
    assert (priced.shipping.gross, priced.shipping.net, priced.shipping.tax) == (
        D("4.90"),
        D("4.12"),
        D("0.78"),
    )
    assert (priced.subtotal, priced.tax, priced.total) == (D("50.68"), D("7.86"), D("55.58"))


def test_net_prices_get_tax_added() -> None:
    priced = price_cart(
        _info(_line(1, "10.00", 3), include_tax=False), method=None, voucher=None, now=NOW
    )
    (line,) = priced.lines
    assert (line.net, line.tax, line.gross) == (D("30.00"), D("5.70"), D("35.70"))
    assert (priced.subtotal, priced.tax, priced.total) == (D("30.00"), D("5.70"), D("35.70"))


def test_best_single_promotion_applies_per_unit_and_the_voucher_on_top() -> None:
    promotions = (
        PromotionInfo(1, "Winter sale", "percentage", D("10"), product_ids=frozenset({1})),
        PromotionInfo(2, "Mug week", "fixed", D("3.00"), variant_ids=frozenset({1})),
    )
    voucher = VoucherInfo(9, "WELCOME10", "percentage", D("10"))
    priced = price_cart(
        _info(_line(1, "20.00", 2), promotions=promotions), method=None, voucher=voucher, now=NOW
    )
    (line,) = priced.lines
    assert line.unit_price == D("17.00")
    assert line.promotion_name == "Mug week"
    assert (line.promotion_discount, line.voucher_discount, line.gross) == (
        D("6.00"),
        D("3.40"),
        D("30.60"),
    )
    assert [(d.kind, d.code, d.amount) for d in priced.discounts] == [
        ("promotion", "", D("6.00")),
        ("voucher", "WELCOME10", D("3.40")),
    ]
    assert priced.discount == D("9.40")
    assert priced.total == D("30.60")


def test_promotion_outside_its_window_does_not_apply() -> None:
    later = PromotionInfo(
        1,
        "Later",
        "percentage",
        D("50"),
        product_ids=frozenset({1}),
        starts_at=NOW + timedelta(hours=1),
    )
    priced = price_cart(
        _info(_line(1, "20.00"), promotions=(later,)), method=None, voucher=None, now=NOW
    )
    assert priced.lines[0].unit_price == D("20.00")


def test_fixed_voucher_is_shared_to_the_cent_over_scoped_lines() -> None:
    voucher = VoucherInfo(9, "TEN", "fixed", D("10.00"), product_ids=frozenset({1, 2}))
    priced = price_cart(
        _info(_line(1, "3.33"), _line(2, "3.33"), _line(3, "3.34")),
        method=None,
        voucher=voucher,
        now=NOW,
    )
    assert [line.voucher_discount for line in priced.lines] == [D("3.33"), D("3.33"), D("0.00")]
    assert priced.total == D("3.34")


def test_free_shipping_voucher_takes_the_shipping_off() -> None:
    voucher = VoucherInfo(9, "SHIPFREE", "free_shipping", D("0"))
    priced = price_cart(_info(_line(1, "10.00")), method=FLAT, voucher=voucher, now=NOW)
    assert priced.shipping is not None
    assert priced.shipping.gross == D("0.00")
    assert (priced.shipping_total, priced.discount, priced.total) == (
        D("4.90"),
        D("4.90"),
        D("10.00"),
    )


@pytest.mark.parametrize(
    ("voucher", "code", "missing"),
    [
        (
            VoucherInfo(9, "X", "percentage", D("10"), min_subtotal=D("50.00")),
            "voucher_not_applicable",
            "min_subtotal",
        ),
        (
            VoucherInfo(9, "X", "percentage", D("10"), category_ids=frozenset({7})),
            "voucher_not_applicable",
            "eligible_products",
        ),
        (VoucherInfo(9, "X", "percentage", D("10"), ends_at=NOW), "voucher_expired", None),
        (
            VoucherInfo(9, "X", "percentage", D("10"), usage_limit=3, used_count=3),
            "voucher_used_up",
            None,
        ),
        (VoucherInfo(9, "X", "percentage", D("10"), is_active=False), "voucher_invalid", None),
    ],
)
def test_a_voucher_that_cannot_apply_is_left_out_and_explained(
    voucher: VoucherInfo, code: str, missing: str | None
) -> None:
    priced = price_cart(_info(_line(1, "20.00")), method=None, voucher=voucher, now=NOW)
    assert priced.voucher_refusal is not None
    assert priced.voucher_refusal.code == code
    assert priced.voucher_refusal.details.get("missing") == missing
    assert priced.discount == D("0.00")
    assert priced.total == D("20.00")


def test_tiers_price_by_weight_and_refuse_what_they_do_not_cover() -> None:
    method = ShippingMethodInfo(
        2,
        "parcel",
        "Parcel",
        "EU",
        "weight",
        D("0"),
        tiers=(Tier(D("1000"), D("4.00")), Tier(D("5000"), D("9.00"))),
    )
    light = price_cart(
        _info(_line(1, "5.00", 2, weight_grams=400)), method=method, voucher=None, now=NOW
    )
    heavy = price_cart(
        _info(_line(1, "5.00", 2, weight_grams=2000)), method=method, voucher=None, now=NOW
    )
    assert light.shipping is not None
    assert light.shipping.price == D("4.00")
    assert heavy.shipping is not None
    assert heavy.shipping.price == D("9.00")
    with pytest.raises(ShippingUnavailableError) as refused:
        price_cart(
            _info(_line(1, "5.00", 3, weight_grams=2000)), method=method, voucher=None, now=NOW
        )
    assert refused.value.details["weight_grams"] == 6000


def test_share_fixed_sums_exactly_and_respects_each_weight() -> None:
    shares = share_fixed(D("1.00"), [D("0.01"), D("0.33"), D("0.33"), D("0.33")])
    assert sum(shares) == D("1.00")
    assert shares[0] <= D("0.01")


# --- properties -------------------------------------------------------------------------

_money = st.decimals(min_value=D("0.00"), max_value=D("999.99"), places=2)
_rate = st.sampled_from([D("0"), D("5.5"), D("7"), D("10"), D("19"), D("20"), D("25.5")])


@st.composite
def _carts(draw: st.DrawFn) -> tuple[CartInfo, ShippingMethodInfo | None, VoucherInfo | None]:
    count = draw(st.integers(min_value=1, max_value=8))
    lines = tuple(
        _line(
            n,
            str(draw(_money)),
            draw(st.integers(1, 99)),
            product_id=n % 3,
            tax_class=draw(st.sampled_from(["standard", "reduced", "zero"])),
            weight_grams=draw(st.integers(0, 2000)),
        )
        for n in range(count)
    )
    promotions = tuple(
        PromotionInfo(
            i,
            f"P{i}",
            draw(st.sampled_from(["percentage", "fixed"])),
            draw(st.decimals(min_value=D("0.01"), max_value=D("100"), places=2)),
            product_ids=frozenset(draw(st.sets(st.integers(0, 2)))),
        )
        for i in range(draw(st.integers(0, 3)))
    )
    kind = draw(st.sampled_from(["percentage", "fixed", "free_shipping", None]))
    voucher = None
    if kind is not None:
        value = draw(
            st.decimals(
                min_value=D("0"),
                max_value=D("100") if kind == "percentage" else D("5000"),
                places=2,
            )
        )
        voucher = VoucherInfo(
            1, "CODE", kind, value, product_ids=frozenset(draw(st.sets(st.integers(0, 2))))
        )
    method = draw(st.one_of(st.none(), st.just(FLAT)))
    info = CartInfo(
        currency="EUR",
        lines=lines,
        promotions=promotions,
        country="DE",
        prices_include_tax=draw(st.booleans()),
        tax_rates={"standard": draw(_rate), "reduced": draw(_rate)},
    )
    return info, method, voucher


@settings(max_examples=300, deadline=None)
@given(_carts())
def test_pricing_properties(
    case: tuple[CartInfo, ShippingMethodInfo | None, VoucherInfo | None],
) -> None:
    info, method, voucher = case
    priced = price_cart(info, method=method, voucher=voucher, now=NOW)
    shipping_gross = priced.shipping.gross if priced.shipping else D("0")
    for line, source in zip(priced.lines, info.lines, strict=True):
        assert line.net + line.tax == line.gross
        assert min(line.net, line.tax, line.gross, line.discount, line.unit_price) >= 0
        assert line.promotion_discount + line.voucher_discount == line.discount
        assert line.discount <= line.undiscounted_total
        assert line.undiscounted_total == source.unit_price * source.quantity
        if info.prices_include_tax:
            assert line.gross == line.undiscounted_total - line.discount
        else:
            assert line.net == line.undiscounted_total - line.discount
        for value in (line.net, line.tax, line.gross, line.discount):
            assert value == value.quantize(D("0.01"))
    if priced.shipping:
        assert priced.shipping.net + priced.shipping.tax == priced.shipping.gross
        assert 0 <= priced.shipping.discount <= priced.shipping.price
    assert priced.total == sum((line.gross for line in priced.lines), D("0")) + shipping_gross
    assert priced.tax == sum((line.tax for line in priced.lines), D("0")) + (
        priced.shipping.tax if priced.shipping else 0
    )
    assert priced.subtotal == sum((line.undiscounted_total for line in priced.lines), D("0"))
    assert priced.discount == sum((d.amount for d in priced.discounts), D("0"))
    expected = priced.subtotal - priced.discount + priced.shipping_total
    assert priced.total == (expected if info.prices_include_tax else expected + priced.tax)
    assert priced.total >= 0
    assert priced.discount <= priced.subtotal + priced.shipping_total
    if voucher is not None and voucher.kind == "fixed" and priced.voucher_refusal is None:
        assert sum((line.voucher_discount for line in priced.lines), D("0")) <= voucher.value
