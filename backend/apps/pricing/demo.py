"""Demo pricing for ``manage.py seed_demo``: shipping zones (EU, UK, US, rest of world)
with standard and express, EU VAT rates, the ``WELCOME10`` voucher and a running sale.

Idempotent (get-or-create by natural keys), so re-running changes nothing a staff
member edited. What does not belong here: anything a real shop runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from apps.catalog.models import Category
from apps.pricing.models import (
    DiscountKind,
    Promotion,
    ShippingMethod,
    ShippingZone,
    TaxClass,
    TaxRate,
    Voucher,
)

EU = ["AT", "BE", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "LU", "NL", "PL", "PT", "SE"]
# Standard and reduced VAT, percent (2026 rates of these member states).
EU_VAT: dict[str, tuple[str, str]] = {
    "AT": ("20", "10"), "BE": ("21", "6"), "DE": ("19", "7"), "DK": ("25", "25"),
    "ES": ("21", "10"), "FI": ("25.5", "14"), "FR": ("20", "5.5"), "IE": ("23", "13.5"),
    "IT": ("22", "10"), "LU": ("17", "8"), "NL": ("21", "9"), "PL": ("23", "8"),
    "PT": ("23", "6"), "SE": ("25", "12"),
}  # fmt: skip
# zone: (countries, rest of world, [(code, name, price, free over, min days, max days)])
ZONES: dict[str, tuple[list[str], bool, list[tuple[str, str, str, str | None, int, int]]]] = {
    "EU": (EU, False, [("standard", "Standard", "4.90", "50.00", 2, 4),
                       ("express", "Express", "12.90", None, 1, 2)]),
    "UK": (["GB"], False, [("standard", "Standard", "7.90", "80.00", 3, 5),
                           ("express", "Express", "17.90", None, 1, 3)]),
    "US": (["US"], False, [("standard", "Standard", "14.90", "120.00", 5, 9),
                           ("express", "Express", "29.90", None, 2, 4)]),
    "Rest of world": ([], True, [("standard", "Standard", "19.90", None, 7, 15),
                                 ("express", "Express", "39.90", None, 3, 6)]),
}  # fmt: skip


@dataclass(frozen=True)
class PricingSeedResult:
    zones_created: int
    rates_created: int
    voucher_created: bool
    sale_created: bool


@transaction.atomic
def demo_pricing_seed() -> PricingSeedResult:
    zones = rates = 0
    for name, (countries, rest, methods) in ZONES.items():
        zone, created = ShippingZone.objects.get_or_create(
            name=name, defaults={"countries": countries, "is_rest_of_world": rest}
        )
        zones += created
        for position, (code, title, price, free_over, low, high) in enumerate(methods):
            ShippingMethod.objects.get_or_create(
                zone=zone,
                code=code,
                defaults={
                    "name": title,
                    "price": Decimal(price),
                    "free_over": Decimal(free_over) if free_over else None,
                    "min_days": low,
                    "max_days": high,
                    "position": position,
                },
            )
    classes = {
        code: TaxClass.objects.get_or_create(code=code, defaults={"name": code.title()})[0]
        for code in ("standard", "reduced", "zero")
    }
    existing = set(TaxRate.objects.values_list("country", "tax_class_id"))
    missing = [
        TaxRate(country=country, tax_class=classes[code], rate=Decimal(rate))
        for country, (standard, reduced) in EU_VAT.items()
        for code, rate in (("standard", standard), ("reduced", reduced), ("zero", "0"))
        if (country, classes[code].pk) not in existing
    ]
    rates = len(TaxRate.objects.bulk_create(missing))
    _, voucher_created = Voucher.objects.get_or_create(
        code="WELCOME10",
        defaults={
            "name": "10 % off a first order",
            "kind": DiscountKind.PERCENTAGE,
            "value": Decimal("10"),
            "once_per_customer": True,
        },
    )
    sale_created = False
    mugs = Category.objects.filter(slug="mugs").values_list("pk", flat=True).first()
    if mugs is not None:
        _, sale_created = Promotion.objects.get_or_create(
            name="Mug week",
            defaults={
                "kind": DiscountKind.PERCENTAGE,
                "value": Decimal("20"),
                "category_ids": [mugs],
            },
        )
    return PricingSeedResult(zones, rates, voucher_created, sale_created)
