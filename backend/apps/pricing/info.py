"""The typed, pre-fetched inputs and the outputs of ``calculate.price_cart``.

Selectors fill the inputs from the database (``apps.pricing.selectors``); the pure
function reads only these. Frozen dataclasses of ``Decimal``s, ints and strings:
nothing here can run a query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class LineInfo:
    line_id: int
    variant_id: int
    product_id: int
    category_id: int
    quantity: int
    unit_price: Decimal  # as entered in the catalogue: gross or net per prices_include_tax
    weight_grams: int = 0
    tax_class: str = "standard"


@dataclass(frozen=True)
class PromotionInfo:
    id: int
    name: str
    kind: str  # percentage | fixed (per unit)
    value: Decimal
    variant_ids: frozenset[int] = frozenset()
    product_ids: frozenset[int] = frozenset()
    category_ids: frozenset[int] = frozenset()
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    def applies_to(self, line: LineInfo) -> bool:
        return (
            line.variant_id in self.variant_ids
            or line.product_id in self.product_ids
            or line.category_id in self.category_ids
        )


@dataclass(frozen=True)
class VoucherInfo:
    id: int
    code: str
    kind: str  # percentage | fixed | free_shipping
    value: Decimal
    product_ids: frozenset[int] = frozenset()
    category_ids: frozenset[int] = frozenset()
    min_subtotal: Decimal | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    usage_limit: int | None = None
    used_count: int = 0
    once_per_customer: bool = False
    is_active: bool = True

    @property
    def is_scoped(self) -> bool:
        return bool(self.product_ids or self.category_ids)

    def applies_to(self, line: LineInfo) -> bool:
        if not self.is_scoped:
            return True
        return line.product_id in self.product_ids or line.category_id in self.category_ids


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # inclusive upper bound (amount or grams); None: no bound
    price: Decimal


@dataclass(frozen=True)
class ShippingMethodInfo:
    id: int
    code: str
    name: str
    zone_name: str
    rule: str  # flat | subtotal | weight
    price: Decimal
    tiers: tuple[Tier, ...] = ()
    free_over: Decimal | None = None
    min_days: int = 1
    max_days: int = 5
    is_active: bool = True


@dataclass(frozen=True)
class ZonedMethod:
    """A shipping method with where its zone ships: what the method list is chosen from."""

    method: ShippingMethodInfo
    countries: frozenset[str]
    rest_of_world: bool


@dataclass(frozen=True)
class CartInfo:
    """A cart as pricing needs it, with the rules in force for it."""

    currency: str
    lines: tuple[LineInfo, ...]
    promotions: tuple[PromotionInfo, ...] = ()
    # Percent rates by tax class for the destination country (missing class: 0 %).
    tax_rates: dict[str, Decimal] = field(default_factory=dict)
    prices_include_tax: bool = True
    country: str = ""
    country_is_estimate: bool = False


@dataclass(frozen=True)
class PricedLine:
    line_id: int
    variant_id: int
    quantity: int
    undiscounted_unit_price: Decimal
    unit_price: Decimal  # after the promotion, before the voucher
    undiscounted_total: Decimal
    promotion_discount: Decimal
    promotion_id: int | None
    promotion_name: str
    voucher_discount: Decimal
    discount: Decimal  # promotion + voucher
    net: Decimal
    tax_rate: Decimal
    tax: Decimal
    gross: Decimal
    total: Decimal  # what the line adds to the order: gross


@dataclass(frozen=True)
class PricedShipping:
    method_code: str
    method_name: str
    price: Decimal  # as the method prices it, before a free-shipping voucher
    discount: Decimal
    net: Decimal
    tax_rate: Decimal
    tax: Decimal
    gross: Decimal


@dataclass(frozen=True)
class DiscountLine:
    kind: str  # voucher | promotion
    code: str  # the voucher code, or "" for a promotion
    name: str
    amount: Decimal


@dataclass(frozen=True)
class VoucherRefusal:
    code: str  # voucher_expired | voucher_not_applicable | voucher_used_up | voucher_invalid
    message: str
    details: dict[str, object]


@dataclass(frozen=True)
class PricedCart:
    currency: str
    lines: tuple[PricedLine, ...]
    shipping: PricedShipping | None
    discounts: tuple[DiscountLine, ...]
    subtotal: Decimal  # sum of undiscounted line totals, as entered
    discount: Decimal  # promotions + voucher (lines and shipping)
    shipping_total: Decimal  # shipping as entered, before its discount
    tax: Decimal
    total: Decimal
    prices_include_tax: bool
    country: str
    country_is_estimate: bool
    voucher_code: str | None
    voucher_refusal: VoucherRefusal | None
