"""The staff API for pricing rules: what it accepts, and every refusal is a 400 (or 409)
in the error shape that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.catalog.factories import variant_create
from apps.pricing.factories import tax_class_get, voucher_create
from apps.pricing.models import Promotion, ShippingMethod, ShippingZone, TaxRate, Voucher

pytestmark = pytest.mark.django_db

BASE = "/api/v1/pricing"


def _counts() -> tuple[int, ...]:
    return tuple(
        m.objects.count() for m in (ShippingZone, ShippingMethod, TaxRate, Voucher, Promotion)
    )


def test_staff_build_a_zone_with_a_weight_tiered_method(staff_client: APIClient) -> None:
    zone = staff_client.post(
        f"{BASE}/shipping-zones/", {"name": "EU", "countries": ["de", "FR"]}, format="json"
    )
    assert zone.status_code == 201, zone.content
    assert zone.json()["countries"] == ["DE", "FR"]
    method = staff_client.post(
        f"{BASE}/shipping-methods/",
        {
            "zone": zone.json()["id"],
            "code": "parcel",
            "name": "Parcel",
            "rule": "weight",
            "tiers": [{"up_to": "1000", "price": "4.00"}, {"up_to": None, "price": "9.00"}],
            "free_over": "75.00",
        },
        format="json",
    )
    assert method.status_code == 201, method.content
    assert method.json()["tiers"] == [
        {"up_to": "1000.00", "price": "4.00"},
        {"up_to": None, "price": "9.00"},
    ]
    stored = ShippingMethod.objects.get(code="parcel")
    assert (stored.zone.name, stored.rule, str(stored.free_over)) == ("EU", "weight", "75.00")


def test_staff_create_a_voucher_with_a_case_insensitive_code(staff_client: APIClient) -> None:
    shirt = variant_create(sku="S")
    response = staff_client.post(
        f"{BASE}/vouchers/",
        {"code": "spring-5", "kind": "fixed", "value": "5.00", "product_ids": [shirt.product_id],
         "usage_limit": 100, "once_per_customer": True},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["code"] == "SPRING-5"
    duplicate = staff_client.post(
        f"{BASE}/vouchers/", {"code": "Spring-5", "kind": "percentage", "value": "5"}, format="json"
    )
    assert duplicate.status_code == 400
    assert duplicate.json()["error"] == "validation_error"
    gone = staff_client.delete(f"{BASE}/vouchers/{response.json()['id']}/")
    assert gone.status_code == 204
    assert Voucher.objects.get(code="SPRING-5").is_active is False


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("shipping-zones", {"name": "X", "countries": ["XX"]}, "countries"),
        ("shipping-zones", {"name": "Again", "is_rest_of_world": True}, "is_rest_of_world"),
        ("shipping-methods", {"zone": 999999, "code": "a", "name": "A", "price": "1.00"}, "zone"),
        ("shipping-methods", {"zone": 0, "code": "a", "name": "A", "price": 1.5}, "price"),
        ("tax-rates", {"country": "DE", "tax_class": "standard", "rate": 19.0}, "rate"),
        ("tax-rates", {"country": "DE", "tax_class": "standard", "rate": "101"}, "rate"),
        ("tax-rates", {"country": "DE", "tax_class": "nope", "rate": "19"}, "tax_class"),
        ("vouchers", {"code": "BIG", "kind": "percentage", "value": "150"}, "value"),
        ("vouchers", {"code": "IDS", "kind": "fixed", "value": "1", "product_ids": [999999]},
         "product_ids"),
        ("vouchers", {"code": "WIN", "kind": "fixed", "value": "1",
                      "starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"},
         "ends_at"),
        ("vouchers", {"code": "X1", "kind": "fixed", "value": "1", "price": "0.00"}, "price"),
        ("promotions", {"name": "Zero", "kind": "fixed", "value": "0"}, "value"),
    ],
)  # fmt: skip
def test_bad_pricing_input_is_a_400_that_changes_nothing(
    staff_client: APIClient, path: str, body: dict[str, Any], field: str
) -> None:
    tax_class_get("standard")
    before = _counts()
    response = staff_client.post(f"{BASE}/{path}/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["details"]
    assert _counts() == before


def test_a_country_is_in_one_zone_only(staff_client: APIClient) -> None:
    ShippingZone.objects.create(name="EU", countries=["DE"])
    response = staff_client.post(
        f"{BASE}/shipping-zones/", {"name": "DACH", "countries": ["AT", "DE"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["details"]["countries"] == ["Already in another zone: ['DE']."]


def test_a_tax_class_still_on_a_product_cannot_be_deleted(staff_client: APIClient) -> None:
    reduced = tax_class_get("reduced")
    variant = variant_create(sku="BOOK")
    variant.product.tax_class = reduced
    variant.product.save(update_fields=["tax_class"])
    response = staff_client.delete(f"{BASE}/tax-classes/{reduced.pk}/")
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_state"
    assert response.json()["details"]["used_by"] == ["product"]


def test_patch_changes_only_what_it_names(staff_client: APIClient) -> None:
    voucher = voucher_create("KEEP", usage_limit=3)
    response = staff_client.patch(
        f"{BASE}/vouchers/{voucher.pk}/", {"is_active": False}, format="json"
    )
    assert response.status_code == 200, response.content
    voucher.refresh_from_db()
    assert (voucher.is_active, voucher.usage_limit, voucher.code) == (False, 3, "KEEP")
