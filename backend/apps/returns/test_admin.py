"""Admin: returns with their lines, read-only, and the approve action through the service."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.catalog.models import Variant
from apps.notifications.models import EmailLog
from apps.returns.factories import order_shipped, return_made
from apps.returns.models import ReturnRequest

pytestmark = pytest.mark.django_db


def test_returns_are_listed_with_their_lines_and_approved_by_the_action(
    admin_client: Client, customer: User, tee: Variant
) -> None:
    order = order_shipped(user=customer, lines=[(tee, 2)])
    made = return_made(order, [(order.lines.get(), 1)], actor=customer)

    listing = admin_client.get("/admin/returns/returnrequest/?status__exact=requested")
    detail = admin_client.get(f"/admin/returns/returnrequest/{made.pk}/change/")
    assert listing.status_code == detail.status_code == 200
    assert made.number.encode() in listing.content
    assert b"TEE" in detail.content  # the line inline
    assert b'name="staff_note"' not in detail.content  # shown, not editable

    approve = {"action": "approve", "_selected_action": [made.pk]}
    admin_client.post("/admin/returns/returnrequest/", approve)
    admin_client.post("/admin/returns/returnrequest/", approve)  # the second is refused

    made.refresh_from_db()
    assert made.status == ReturnRequest.Status.APPROVED
    assert EmailLog.objects.filter(kind="return_approved", reference=made.number).count() == 1
    assert admin_client.get("/admin/returns/returnrequest/add/").status_code == 403
