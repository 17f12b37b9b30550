"""The ops page's "fulfilments not shipped after N days": pending parcels older than
``OPS_UNSHIPPED_FULFILMENT_DAYS``, on the overview (a count) and on ``/ops/`` (a list)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.catalog.factories import variant_create
from apps.ops import selectors
from apps.orders.fulfilments import fulfilment_create, fulfilment_ship
from apps.orders.models import Fulfilment
from apps.payments.factories import order_paid

pytestmark = pytest.mark.django_db


def _parcel(staff: User, *, age_days: float, ship: bool = False) -> Fulfilment:
    order = order_paid(lines=[(variant_create(), 1)])
    parcel = fulfilment_create(
        order=order,
        lines=[{"line": order.lines.get().pk, "quantity": 1}],
        warehouse="default",
        carrier="DHL",
        actor=staff,
    )
    if ship:
        fulfilment_ship(fulfilment=parcel, actor=staff)
    Fulfilment.objects.filter(pk=parcel.pk).update(
        created_at=timezone.now() - timedelta(days=age_days)
    )
    return parcel


@pytest.fixture
def parcels(staff: User) -> dict[str, Fulfilment]:
    return {
        "old": _parcel(staff, age_days=3),
        "older": _parcel(staff, age_days=5),
        "recent": _parcel(staff, age_days=1),
        "old_but_shipped": _parcel(staff, age_days=4, ship=True),
    }


def test_pending_parcels_past_the_threshold_are_listed_oldest_first(
    parcels: dict[str, Fulfilment],
) -> None:
    assert selectors.unshipped_fulfilment_days() == 2  # the default
    listed = [p.number for p in selectors.fulfilment_unshipped_list()]
    assert listed == [parcels["older"].number, parcels["old"].number]
    with override_settings(OPS_UNSHIPPED_FULFILMENT_DAYS=4):
        assert [p.number for p in selectors.fulfilment_unshipped_list()] == [
            parcels["older"].number
        ]


def test_the_overview_counts_them_with_the_threshold(
    parcels: dict[str, Fulfilment], staff_client: APIClient
) -> None:
    body = staff_client.get("/api/v1/ops/overview/").json()
    assert body["fulfilments"] == {"unshipped": 2, "threshold_days": 2}


def test_the_ops_page_lists_them(parcels: dict[str, Fulfilment], staff_session: Client) -> None:
    html = staff_session.get("/ops/").content.decode()
    section = html.split('id="unshipped-fulfilments"')[1].split("</section>")[0]
    assert "Fulfilments not shipped after 2 days" in section
    assert f'data-fulfilment="{parcels["old"].number}"' in section
    assert f'data-fulfilment="{parcels["older"].number}"' in section
    assert parcels["recent"].number not in section
    assert parcels["old_but_shipped"].number not in section
    assert parcels["old"].order.number in section
    assert 'id="tile-unshipped-fulfilments">2<' in html


def test_the_ops_page_says_when_none_wait(staff_session: Client) -> None:
    html = staff_session.get("/ops/").content.decode()
    assert "No parcel waits longer than 2 days." in html
