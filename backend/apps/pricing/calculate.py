"""The one pure function that prices a cart: promotions, voucher, shipping, tax, totals.

``price_cart`` reads a pre-fetched ``CartInfo`` (``apps.pricing.selectors``) and runs
no query, so the cart GET, the shipping-method list and checkout price the same way
and what the cart shows is what checkout charges.

Rounding (every currency the shop sells in has two minor-unit places, the money
fields' ``decimal_places``): each amount is rounded half-up to the cent where it is
first computed, and sums are of rounded amounts, so every total is exactly the sum
of its lines.

1. Promotion, per unit: the best single running promotion of the line (no stacking);
   percentage off rounds the unit price's discount; a fixed amount is capped at the
   unit price. Line amount = promoted unit price x quantity.
2. Voucher, per line, on the promoted amounts of the lines in its scope: a percentage
   rounds each line's discount; a fixed amount (capped at the eligible amount) is
   shared in proportion to the lines' amounts, whole cents by the largest remainder,
   so the shares add up to it exactly. Free shipping takes the shipping price off.
3. Shipping is priced on the goods after discounts (tiers, free-over) and the weight.
4. Tax per line and for shipping (the destination's standard rate): with gross prices
   net = round(gross x 100 / (100 + rate)) and tax = gross - net; with net prices
   tax = round(net x rate / 100) and gross = net + tax.

What does not belong here: reading rows (selectors), refusing a request (services
and checkout decide what a ``voucher_refusal`` means for them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from apps.pricing.errors import ShippingUnavailableError
from apps.pricing.info import (
    CartInfo,
    DiscountLine,
    LineInfo,
    PricedCart,
    PricedLine,
    PricedShipping,
    PromotionInfo,
    ShippingMethodInfo,
    VoucherInfo,
    VoucherRefusal,
)
from utils.decimal_utils import CENT, ZERO, money_sum, quantize

HUNDRED = Decimal(100)
STANDARD = "standard"


def in_window(now: datetime, starts_at: datetime | None, ends_at: datetime | None) -> bool:
    return (starts_at is None or starts_at <= now) and (ends_at is None or now < ends_at)


def promotion_unit_discount(unit_price: Decimal, promotion: PromotionInfo) -> Decimal:
    if promotion.kind == "percentage":
        return min(unit_price, quantize(unit_price * promotion.value / HUNDRED))
    return min(unit_price, promotion.value)


def best_promotion(
    line: LineInfo, promotions: Sequence[PromotionInfo], now: datetime
) -> tuple[Decimal, PromotionInfo | None]:
    """The largest per-unit discount of the running promotions for this line (ties: lowest id)."""
    best: tuple[Decimal, PromotionInfo | None] = (ZERO, None)
    for promotion in sorted(promotions, key=lambda p: p.id):
        if not (
            promotion.applies_to(line) and in_window(now, promotion.starts_at, promotion.ends_at)
        ):
            continue
        discount = promotion_unit_discount(line.unit_price, promotion)
        if discount > best[0]:
            best = (discount, promotion)
    return best


def promoted_unit_price(
    line: LineInfo, promotions: Sequence[PromotionInfo], now: datetime
) -> tuple[Decimal, PromotionInfo | None]:
    """The unit price after the line's best single running promotion, and that promotion.

    The one rule the catalogue (product list and detail, per variant) and the cart share:
    what a product page shows is the unit price the cart and checkout charge.
    """
    off, promotion = best_promotion(line, promotions, now)
    return quantize(line.unit_price - off), promotion


def voucher_refusal(
    voucher: VoucherInfo, *, lines: Sequence[LineInfo], amounts: Sequence[Decimal], now: datetime
) -> VoucherRefusal | None:
    """Why the voucher cannot apply to these lines (promoted ``amounts``) now, or None."""
    if not voucher.is_active:
        return VoucherRefusal("voucher_invalid", "This voucher code is not valid.", {})
    if not in_window(now, voucher.starts_at, voucher.ends_at):
        return VoucherRefusal(
            "voucher_expired",
            "This voucher is not valid at this time.",
            {
                "starts_at": voucher.starts_at.isoformat() if voucher.starts_at else None,
                "ends_at": voucher.ends_at.isoformat() if voucher.ends_at else None,
            },
        )
    if voucher.usage_limit is not None and voucher.used_count >= voucher.usage_limit:
        return VoucherRefusal("voucher_used_up", "This voucher has been used up.", {})
    if voucher.is_scoped and not any(voucher.applies_to(line) for line in lines):
        return VoucherRefusal(
            "voucher_not_applicable",
            "The cart has none of the products this voucher is for.",
            {
                "missing": "eligible_products",
                "product_ids": sorted(voucher.product_ids),
                "category_ids": sorted(voucher.category_ids),
            },
        )
    subtotal = money_sum(amounts)
    if voucher.min_subtotal is not None and subtotal < voucher.min_subtotal:
        return VoucherRefusal(
            "voucher_not_applicable",
            f"This voucher needs a subtotal of at least {voucher.min_subtotal}.",
            {
                "missing": "min_subtotal",
                "min_subtotal": str(voucher.min_subtotal),
                "subtotal": str(subtotal),
                "short_by": str(voucher.min_subtotal - subtotal),
            },
        )
    return None


def share_fixed(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``amount`` (capped at the weights' sum) split in proportion to ``weights`` in whole
    cents, largest remainder first: the shares sum to it exactly, none exceeds its weight."""
    total = sum(weights, ZERO)
    amount = min(amount, total)
    if amount <= 0 or total <= 0:
        return [ZERO for _ in weights]
    exact = [weight * amount / total for weight in weights]
    shares = [value.quantize(CENT, rounding=ROUND_DOWN) for value in exact]
    left = int((amount - sum(shares, ZERO)) / CENT)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for index in by_remainder[:left]:
        shares[index] += CENT
    return [quantize(share) for share in shares]


def shipping_price(
    method: ShippingMethodInfo, *, goods: Decimal, weight_grams: int
) -> Decimal | None:
    """The method's price for goods (after discounts) of this amount and weight, or None
    when its tiers do not cover them (or it is inactive)."""
    if not method.is_active:
        return None
    if method.rule == "flat":
        price: Decimal | None = method.price
    else:
        measure = goods if method.rule == "subtotal" else Decimal(weight_grams)
        price = next(
            (tier.price for tier in method.tiers if tier.up_to is None or measure <= tier.up_to),
            None,
        )
    if price is None:
        return None
    if method.free_over is not None and goods >= method.free_over:
        return ZERO
    return price


def tax_split(
    amount: Decimal, rate: Decimal, *, prices_include_tax: bool
) -> tuple[Decimal, Decimal, Decimal]:
    """(net, tax, gross) of an amount as entered; net + tax == gross exactly."""
    if prices_include_tax:
        net = quantize(amount * HUNDRED / (HUNDRED + rate))
        return net, quantize(amount - net), amount
    tax = quantize(amount * rate / HUNDRED)
    return amount, tax, quantize(amount + tax)


def price_cart(
    cart_info: CartInfo,
    *,
    method: ShippingMethodInfo | None,
    voucher: VoucherInfo | None,
    now: datetime,
) -> PricedCart:
    """Price the cart for ``cart_info.country`` (tax rates pre-fetched for it).

    A voucher that cannot apply is left out and explained in ``voucher_refusal``; a
    method whose rules do not cover the cart raises 409 ``shipping_unavailable``.
    """
    lines = cart_info.lines
    promoted: list[tuple[Decimal, PromotionInfo | None]] = [
        promoted_unit_price(line, cart_info.promotions, now) for line in lines
    ]
    amounts = [
        quantize(unit * line.quantity) for line, (unit, _) in zip(lines, promoted, strict=True)
    ]

    refusal = None
    voucher_lines = [ZERO for _ in lines]
    if voucher is not None:
        refusal = voucher_refusal(voucher, lines=lines, amounts=amounts, now=now)
        if refusal is None:
            voucher_lines = _voucher_line_discounts(voucher, lines, amounts)
    applied = voucher if voucher is not None and refusal is None else None

    priced_lines = []
    for line, (unit, promotion), amount, voucher_off in zip(
        lines, promoted, amounts, voucher_lines, strict=True
    ):
        rate = cart_info.tax_rates.get(line.tax_class, ZERO)
        net, tax, gross = tax_split(
            quantize(amount - voucher_off), rate, prices_include_tax=cart_info.prices_include_tax
        )
        undiscounted = quantize(line.unit_price * line.quantity)
        promotion_off = quantize(undiscounted - amount)
        priced_lines.append(
            PricedLine(
                line_id=line.line_id,
                variant_id=line.variant_id,
                quantity=line.quantity,
                undiscounted_unit_price=line.unit_price,
                unit_price=unit,
                undiscounted_total=undiscounted,
                promotion_discount=promotion_off,
                promotion_id=promotion.id if promotion else None,
                promotion_name=promotion.name if promotion else "",
                voucher_discount=voucher_off,
                discount=quantize(promotion_off + voucher_off),
                net=net,
                tax_rate=rate,
                tax=tax,
                gross=gross,
                total=gross,
            )
        )

    shipping = None
    if method is not None:
        goods = money_sum(quantize(a - v) for a, v in zip(amounts, voucher_lines, strict=True))
        weight = sum(line.weight_grams * line.quantity for line in lines)
        price = shipping_price(method, goods=goods, weight_grams=weight)
        if price is None:
            raise ShippingUnavailableError(
                details={
                    "shipping_method": method.code,
                    "country": cart_info.country,
                    "subtotal": str(goods),
                    "weight_grams": weight,
                }
            )
        off = price if applied is not None and applied.kind == "free_shipping" else ZERO
        rate = cart_info.tax_rates.get(STANDARD, ZERO)
        net, tax, gross = tax_split(
            quantize(price - off), rate, prices_include_tax=cart_info.prices_include_tax
        )
        shipping = PricedShipping(method.code, method.name, price, off, net, rate, tax, gross)

    return PricedCart(
        currency=cart_info.currency,
        lines=tuple(priced_lines),
        shipping=shipping,
        discounts=_discount_lines(priced_lines, shipping, applied),
        subtotal=money_sum(line.undiscounted_total for line in priced_lines),
        discount=money_sum(
            [*(line.discount for line in priced_lines), shipping.discount if shipping else ZERO]
        ),
        shipping_total=shipping.price if shipping else ZERO,
        tax=money_sum([*(line.tax for line in priced_lines), shipping.tax if shipping else ZERO]),
        total=money_sum(
            [*(line.gross for line in priced_lines), shipping.gross if shipping else ZERO]
        ),
        prices_include_tax=cart_info.prices_include_tax,
        country=cart_info.country,
        country_is_estimate=cart_info.country_is_estimate,
        voucher_code=voucher.code if voucher is not None else None,
        voucher_refusal=refusal,
    )


def _voucher_line_discounts(
    voucher: VoucherInfo, lines: Sequence[LineInfo], amounts: Sequence[Decimal]
) -> list[Decimal]:
    eligible = [
        amount if voucher.applies_to(line) else ZERO
        for line, amount in zip(lines, amounts, strict=True)
    ]
    if voucher.kind == "percentage":
        percent = min(voucher.value, HUNDRED)
        return [min(amount, quantize(amount * percent / HUNDRED)) for amount in eligible]
    if voucher.kind == "fixed":
        return share_fixed(voucher.value, eligible)
    return [ZERO for _ in lines]  # free shipping: taken off the shipping


def _discount_lines(
    lines: Sequence[PricedLine], shipping: PricedShipping | None, voucher: VoucherInfo | None
) -> tuple[DiscountLine, ...]:
    by_promotion: dict[int, tuple[str, Decimal]] = {}
    for line in lines:
        if line.promotion_id is not None and line.promotion_discount > 0:
            name, amount = by_promotion.get(line.promotion_id, (line.promotion_name, ZERO))
            by_promotion[line.promotion_id] = (name, amount + line.promotion_discount)
    result = [
        DiscountLine("promotion", "", name, quantize(amount))
        for _, (name, amount) in sorted(by_promotion.items())
    ]
    if voucher is not None:
        amount = money_sum(
            [*(line.voucher_discount for line in lines), shipping.discount if shipping else ZERO]
        )
        if amount > 0:
            result.append(DiscountLine("voucher", voucher.code, voucher.code, amount))
    return tuple(result)
