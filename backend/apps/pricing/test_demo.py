"""seed_demo's pricing: zones EU/UK/US/rest of world with standard and express, EU VAT,
WELCOME10 and a running sale, idempotently."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from apps.pricing.models import Promotion, ShippingMethod, ShippingZone, TaxRate, Voucher

pytestmark = pytest.mark.django_db


def test_seed_demo_prices_like_a_shop_and_is_idempotent() -> None:
    ShippingZone.objects.all().delete()  # the default test shipping: the demo brings its own
    call_command("seed_demo", "--products", "12", "--no-accounts", stdout=StringIO())
    call_command("seed_demo", "--products", "12", "--no-accounts", stdout=StringIO())

    zones = {z.name: z for z in ShippingZone.objects.all()}
    assert set(zones) == {"EU", "UK", "US", "Rest of world"}
    assert zones["Rest of world"].is_rest_of_world
    assert "DE" in zones["EU"].countries
    for zone in zones.values():
        codes = ShippingMethod.objects.filter(zone=zone).values_list("code", flat=True)
        assert sorted(codes) == ["express", "standard"]
    de = dict(TaxRate.objects.filter(country="DE").values_list("tax_class__code", "rate"))
    assert de == {"standard": Decimal("19.00"), "reduced": Decimal("7.00"), "zero": Decimal("0")}
    welcome = Voucher.objects.get(code="WELCOME10")
    assert (welcome.kind, welcome.value, welcome.once_per_customer) == (
        "percentage",
        Decimal("10.00"),
        True,
    )
    assert Promotion.objects.get(name="Mug week").category_ids
    assert Voucher.objects.count() == 1
