"""Test data for pricing: the default shipping every checkout test ships with, tax rates,
vouchers and promotions. Imported by tests (and the root conftest) only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apps.pricing.models import (
    DiscountKind,
    Promotion,
    ShippingMethod,
    ShippingZone,
    TaxClass,
    TaxRate,
    Voucher,
)


def shipping_default_create() -> ShippingZone:
    """A rest-of-world zone with ``standard`` (4.90) and ``express`` (12.90): the two flat
    prices the ``SHIPPING_METHODS`` setting used to give, for every country."""
    zone, _ = ShippingZone.objects.get_or_create(
        is_rest_of_world=True, defaults={"name": "Rest of world"}
    )
    for position, (code, price, days) in enumerate(
        [("standard", "4.90", (2, 5)), ("express", "12.90", (1, 2))]
    ):
        ShippingMethod.objects.get_or_create(
            zone=zone,
            code=code,
            defaults={
                "name": code.title(),
                "price": Decimal(price),
                "min_days": days[0],
                "max_days": days[1],
                "position": position,
            },
        )
    return zone


def shipping_default_for(request: Any) -> None:
    """For an autouse fixture: the default shipping for a test that has a database."""
    marker = request.node.get_closest_marker("django_db")
    wanted = {"db", "transactional_db"} & set(request.fixturenames)
    if marker is None and not wanted:
        return
    transactional = "transactional_db" in wanted or bool(
        marker is not None and marker.kwargs.get("transaction")
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    shipping_default_create()


def tax_class_get(code: str = "standard") -> TaxClass:
    tax_class, _ = TaxClass.objects.get_or_create(code=code, defaults={"name": code.title()})
    return tax_class


def tax_rate_create(country: str, rate: str, tax_class: str = "standard") -> TaxRate:
    return TaxRate.objects.create(
        country=country, tax_class=tax_class_get(tax_class), rate=Decimal(rate)
    )


def voucher_create(code: str = "WELCOME10", **fields: Any) -> Voucher:
    fields.setdefault("kind", DiscountKind.PERCENTAGE)
    fields.setdefault("value", Decimal("10"))
    return Voucher.objects.create(code=code.upper(), **fields)


def promotion_create(name: str = "Sale", **fields: Any) -> Promotion:
    fields.setdefault("kind", DiscountKind.PERCENTAGE)
    fields.setdefault("value", Decimal("20"))
    return Promotion.objects.create(name=name, **fields)
