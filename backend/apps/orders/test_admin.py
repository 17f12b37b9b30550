"""Admin: an order's parcels inline on its page, and the parcels list, both read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.catalog.factories import variant_create
from apps.orders.fulfilments import fulfilment_create
from apps.payments.factories import order_paid

pytestmark = pytest.mark.django_db


def test_parcels_show_on_the_order_and_in_their_own_list_and_cannot_be_edited(
    admin_client: Client, staff: User
) -> None:
    order = order_paid(lines=[(variant_create(sku="ADMIN-MUG"), 1)])
    parcel = fulfilment_create(
        order=order,
        lines=[{"line": order.lines.get().pk, "quantity": 1}],
        warehouse="default",
        tracking_number="TRACK-ADMIN-1",
        actor=staff,
    )

    page = admin_client.get(f"/admin/orders/order/{order.pk}/change/")
    assert page.status_code == 200
    assert parcel.number.encode() in page.content
    assert b"TRACK-ADMIN-1" in page.content
    listed = admin_client.get("/admin/orders/fulfilment/?status__exact=pending&q=TRACK-ADMIN")
    assert listed.status_code == 200
    assert parcel.number.encode() in listed.content
    detail = admin_client.get(f"/admin/orders/fulfilment/{parcel.pk}/change/")
    assert detail.status_code == 200
    assert b"ADMIN-MUG" in detail.content  # its lines, inline
    assert b'name="tracking_number"' not in detail.content  # shown, not editable
    assert admin_client.get("/admin/orders/fulfilment/add/").status_code == 403
    deleted = admin_client.post(f"/admin/orders/fulfilment/{parcel.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    parcel.refresh_from_db()
    assert parcel.status == "pending"
