"""StrictOrderingFilter: an ordering the view does not offer is a 400, not ignored."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.orders.factories import order_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("ordering", ["unknown", "email", "-password", "total,created_at", "?"])
def test_an_ordering_not_offered_is_a_400(staff_client: APIClient, ordering: str) -> None:
    """DRF's OrderingFilter ignored these and ordered by the default (issue 8)."""
    response = staff_client.get("/api/v1/orders/", {"ordering": ordering})
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "ordering" in response.json()["details"]


def test_an_offered_ordering_orders(staff_client: APIClient, customer: User) -> None:
    cheap = order_create(user=customer, shipping="1.00")
    dear = order_create(user=customer, shipping="9.00")
    ids = [
        row["id"] for row in staff_client.get("/api/v1/orders/?ordering=-total").json()["results"]
    ]
    assert ids == [str(dear.pk), str(cheap.pk)]
