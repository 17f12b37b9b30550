"""The pricing admin applies the staff API's rules: a refused rule is a form error."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.pricing.models import ShippingZone, Voucher

pytestmark = pytest.mark.django_db


def test_a_voucher_made_in_the_admin_is_upper_cased_and_checked(admin_client: Client) -> None:
    fields = {"name": "", "kind": "percentage", "product_ids": "[]", "category_ids": "[]",
              "used_count": 0, "is_active": "on"}  # fmt: skip
    made = admin_client.post("/admin/pricing/voucher/add/", {**fields, "code": "x5", "value": "5"})
    assert made.status_code == 302, made.content.decode()[:2000]
    assert Voucher.objects.get().code == "X5"
    refused = admin_client.post(
        "/admin/pricing/voucher/add/", {**fields, "code": "big", "value": "150"}
    )
    assert refused.status_code == 200
    assert "A percentage is at most 100." in refused.content.decode()
    assert Voucher.objects.count() == 1


def test_the_admin_lists_zones_with_their_methods(admin_client: Client) -> None:
    zone = ShippingZone.objects.get(is_rest_of_world=True)
    page = admin_client.get(f"/admin/pricing/shippingzone/{zone.pk}/change/")
    assert page.status_code == 200
    assert "standard" in page.content.decode()
