"""Returns under real concurrency on PostgreSQL: simultaneous return requests never
promise more units than shipped; simultaneous approvals approve (and email) once; a
customer's cancel racing a receive or a reject lets exactly one of them win.

Each request runs in its own thread and database connection through the whole stack
(``tests.threads.run_together``); the order row lock in ``return_request_create`` is
what serialises them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db.models import Sum

from apps.accounts.factories import jwt_headers
from apps.accounts.models import User
from apps.catalog.factories import ledger_sum, on_hand, variant_create
from apps.notifications.models import EmailLog
from apps.orders.models import OrderEvent
from apps.returns.factories import order_shipped, return_made
from apps.returns.models import ReturnLine, ReturnRequest
from apps.returns.services import return_approve
from tests.test_checkout_concurrency import Outcome, _codes, _post
from tests.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "guest-token-return-race-0123456789abcdef012345"


def _staff(email: str) -> User:
    return User.objects.create_user(email=email, password="a-long-passphrase-42", is_staff=True)


def _guest_cancel(made: ReturnRequest) -> Callable[[], Outcome]:
    """The guest's request to withdraw ``made`` (with its order's token)."""
    return _post(
        f"/api/v1/orders/{made.order_id}/returns/{made.number}/cancel/",
        {},
        HTTP_X_ORDER_TOKEN=TOKEN,
    )


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
    staff = _staff("race-staff@example.com")
    order = order_shipped(guest_token=TOKEN, lines=[(variant, 2)])
    made = return_made(order, [(order.lines.get(), 2)])
    url = f"/api/v1/returns/{made.number}/approve/"

    outcomes = run_together([_post(url, {}, **jwt_headers(staff)) for _ in range(6)])

    assert _codes(outcomes) == {"200": 1, "409 invalid_state": 5}
    made.refresh_from_db()
    assert made.status == ReturnRequest.Status.APPROVED
    assert EmailLog.objects.filter(kind="return_approved", reference=made.number).count() == 1


@pytest.mark.parametrize("round_number", [1, 2, 3])
def test_a_cancel_racing_a_receive_lets_exactly_one_win(round_number: int) -> None:
    """Four guest cancels and four staff receives of one approved return, at once: one
    request wins, the seven others are 409 ``invalid_state`` in the error shape, and the
    rows agree with the winner (a cancelled return restocked nothing, counted nothing)."""
    variant = variant_create(sku=f"RACE-CAP-{round_number}", stock=10)
    staff = _staff(f"race-receiver-{round_number}@example.com")
    order = order_shipped(guest_token=TOKEN, lines=[(variant, 2)])
    line = order.lines.get()
    made = return_made(order, [(line, 2)])
    return_approve(return_request=made, actor=staff)
    stock_before = on_hand(variant)
    cancel = _guest_cancel(made)
    receive = _post(
        f"/api/v1/returns/{made.number}/receive/",
        {"lines": [{"line": line.pk, "quantity": 2, "restock": True, "warehouse": "default"}]},
        **jwt_headers(staff),
    )

    outcomes = run_together([cancel, receive] * 4)

    assert _codes(outcomes) == {"200": 1, "409 invalid_state": 7}
    winner = next(body for status, body, _ in outcomes if status == 200)
    for status, body, _ in outcomes:
        if status == 409:
            assert set(body) == {"error", "details"}
            assert body["details"]["status"] == winner["status"]
    made.refresh_from_db()
    line.refresh_from_db()
    assert made.status == winner["status"]
    if made.status == ReturnRequest.Status.CANCELLED:
        assert (line.quantity_returned, on_hand(variant)) == (0, stock_before)
    else:
        assert made.status == ReturnRequest.Status.RECEIVED
        assert (line.quantity_returned, on_hand(variant)) == (2, stock_before + 2)
    assert on_hand(variant) == ledger_sum(variant)
    events = OrderEvent.objects.filter(order=order, note__startswith=f"Return {made.number}:")
    assert (
        events.filter(note__contains="-> cancelled").count()
        + events.filter(note__contains="-> received").count()
        == 1
    )


def test_a_cancel_racing_a_reject_lets_exactly_one_win() -> None:
    variant = variant_create(sku="RACE-SOCK", stock=10)
    staff = _staff("race-rejecter@example.com")
    order = order_shipped(guest_token=TOKEN, lines=[(variant, 1)])
    made = return_made(order, [(order.lines.get(), 1)])
    cancel = _guest_cancel(made)
    reject = _post(
        f"/api/v1/returns/{made.number}/reject/", {"staff_note": "Worn"}, **jwt_headers(staff)
    )

    outcomes = run_together([cancel, reject] * 3)

    assert _codes(outcomes) == {"200": 1, "409 invalid_state": 5}
    made.refresh_from_db()
    winner = next(body for status, body, _ in outcomes if status == 200)
    assert made.status == winner["status"]
    rejected = EmailLog.objects.filter(kind="return_rejected", reference=made.number).count()
    assert rejected == (1 if made.status == ReturnRequest.Status.REJECTED else 0)


def test_a_cancel_racing_an_approval_always_ends_cancelled() -> None:
    """Approved returns may still be withdrawn: whichever runs first, the return ends
    ``cancelled``; the approval either ran before it (200, one email) or is a 409."""
    variant = variant_create(sku="RACE-HAT", stock=10)
    staff = _staff("race-approver@example.com")
    order = order_shipped(guest_token=TOKEN, lines=[(variant, 1)])
    made = return_made(order, [(order.lines.get(), 1)])
    cancel = _guest_cancel(made)
    approve = _post(f"/api/v1/returns/{made.number}/approve/", {}, **jwt_headers(staff))

    outcomes = run_together([cancel, approve])

    codes = _codes(outcomes)
    assert outcomes[0][0] == 200, outcomes[0]
    assert codes in ({"200": 2}, {"200": 1, "409 invalid_state": 1})
    made.refresh_from_db()
    assert made.status == ReturnRequest.Status.CANCELLED
    approved = EmailLog.objects.filter(kind="return_approved", reference=made.number).count()
    assert approved == (1 if codes == {"200": 2} else 0)
