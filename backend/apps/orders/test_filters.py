"""Order list filters: date-times with a real UTC offset, compared in UTC."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.orders.factories import order_create
from apps.orders.models import Order

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01T00:00:00+21:46",  # ISO 8601 allows it, PostgreSQL does not: it was a 500
        "2024-01-01T00:00:00-15:00",
        "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-05:00",  # after year 9999 in UTC
        "yesterday",
    ],
)
def test_a_date_time_out_of_range_is_a_400(staff_client: APIClient, value: str) -> None:
    """Found by schema fuzzing on PostgreSQL (issue 8)."""
    response = staff_client.get("/api/v1/orders/", {"created_before": value})
    assert response.status_code == 400
    assert "created_before" in response.json()["details"]


def test_an_offset_is_honoured(staff_client: APIClient, customer: User) -> None:
    order = order_create(user=customer)
    created = timezone.now() - timedelta(hours=1)
    Order.objects.filter(pk=order.pk).update(created_at=created)
    in_berlin = created.astimezone(timezone.get_fixed_timezone(120))

    before = staff_client.get(
        "/api/v1/orders/", {"created_before": (in_berlin + timedelta(minutes=1)).isoformat()}
    )
    after = staff_client.get(
        "/api/v1/orders/", {"created_after": (in_berlin + timedelta(minutes=1)).isoformat()}
    )

    assert [row["id"] for row in before.json()["results"]] == [str(order.pk)]
    assert after.json()["results"] == []
