"""Returns under real concurrency on PostgreSQL: simultaneous return requests never
promise more units than shipped; simultaneous approvals approve (and email) once.

Each request runs in its own thread and database connection through the whole stack
(``tests.threads.run_together``); the order row lock in ``return_request_create`` is
what serialises them.
"""

from __future__ import annotations

import pytest
from django.db.models import Sum

from apps.accounts.factories import jwt_headers
from apps.accounts.models import User
from apps.catalog.factories import variant_create
from apps.notifications.models import EmailLog
from apps.returns.factories import order_shipped, return_made
from apps.returns.models import ReturnLine, ReturnRequest
from tests.test_checkout_concurrency import _codes, _post
from tests.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "guest-token-return-race-0123456789abcdef012345"


def test_ten_simultaneous_requests_for_one_of_three_shipped_units_accept_exactly_three() -> None:
    variant = variant_create(sku="RACE-TEE", stock=10)
    order = order_shipped(guest_token=TOKEN, lines=[(variant, 3)])
    line = order.lines.get()
    body = {"lines": [{"line": line.pk, "quantity": 1}], "reason": "no_longer_needed"}
    url = f"/api/v1/orders/{order.pk}/returns/"

    outcomes = run_together([_post(url, body, HTTP_X_ORDER_TOKEN=TOKEN) for _ in range(10)])

    assert _codes(outcomes) == {"201": 3, "400 validation_error": 7}
    refused = [out for status, out, _ in outcomes if status == 400]
    assert all(
        out["details"]["lines"] == {"0": {"quantity": ["At most 0 of RACE-TEE can be returned."]}}
        for out in refused
    )
    assert ReturnRequest.objects.filter(order=order).count() == 3
    promised = ReturnLine.objects.filter(line=line).aggregate(units=Sum("quantity"))["units"]
    assert promised == 3
    numbers = sorted(ReturnRequest.objects.values_list("number", flat=True))
    assert numbers == [f"{order.number}-R{n}" for n in (1, 2, 3)]


def test_simultaneous_approvals_of_one_return_approve_and_email_once() -> None:
    variant = variant_create(sku="RACE-MUG", stock=10)
    staff = User.objects.create_user(
        email="race-staff@example.com", password="a-long-passphrase-42", is_staff=True
    )
    order = order_shipped(guest_token=TOKEN, lines=[(variant, 2)])
    made = return_made(order, [(order.lines.get(), 2)])
    url = f"/api/v1/returns/{made.number}/approve/"

    outcomes = run_together([_post(url, {}, **jwt_headers(staff)) for _ in range(6)])

    assert _codes(outcomes) == {"200": 1, "409 invalid_state": 5}
    made.refresh_from_db()
    assert made.status == ReturnRequest.Status.APPROVED
    assert EmailLog.objects.filter(kind="return_approved", reference=made.number).count() == 1
