"""Withdrawing a return: ``POST /orders/{id}/returns/{number}/cancel/`` (the order's owner,
a guest with its token, staff) and ``POST /returns/{number}/cancel/`` (staff), while
nothing has arrived; its units may be asked for again; every refusal changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.accounts.factories import jwt_client
from apps.accounts.models import User
from apps.catalog.factories import variant_create
from apps.catalog.models import Variant
from apps.orders.models import Order, OrderEvent
from apps.returns import services
from apps.returns.conftest import post, returns_url, step_url
from apps.returns.factories import order_shipped, return_made, return_received
from apps.returns.models import ReturnRequest
from config.testing import db_snapshot

pytestmark = pytest.mark.django_db

GUEST = "guest-token-return-cancel-0123456789abcdef01234"


def cancel_url(order: Order, number: str) -> str:
    return f"{returns_url(order)}{number}/cancel/"


def _ask(client: APIClient, order: Order, units: int, **headers: Any) -> Any:
    body = {"lines": [{"line": order.lines.get().pk, "quantity": units}], "reason": "damaged"}
    return post(client, returns_url(order), body, **headers)


def test_the_owner_withdraws_a_requested_return_and_may_ask_for_the_units_again(
    customer: User, customer_client: APIClient, tee: Variant
) -> None:
    order = order_shipped(user=customer, lines=[(tee, 2)])
    made = return_made(order, [(order.lines.get(), 2)], actor=customer)
    assert _ask(customer_client, order, 1).status_code == 400  # both units are promised

    response = post(customer_client, cancel_url(order, made.number))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["number"], body["status"]) == (made.number, "cancelled")
    assert body["cancelled_at"] is not None
    made.refresh_from_db()
    assert (made.status, made.cancelled_at is not None) == ("cancelled", True)
    event = OrderEvent.objects.filter(order=order).last()
    assert event is not None
    assert event.note == (
        f"Return {made.number}: requested -> cancelled. Withdrawn: 2 unit(s) may be returned again."
    )
    assert (event.actor, event.actor_kind) == (customer, "customer")
    order.refresh_from_db()
    assert order.status == "fulfilled"  # the order itself does not move
    # The units are returnable again.
    again = _ask(customer_client, order, 2)
    assert again.status_code == 201, again.content
    assert again.json()["number"] == f"{order.number}-R2"


def test_a_guest_withdraws_an_approved_return_with_its_order_token(
    api_client: APIClient, staff: User, tee: Variant
) -> None:
    order = order_shipped(guest_token=GUEST, lines=[(tee, 2)])
    made = return_made(order, [(order.lines.get(), 1)])
    services.return_approve(return_request=made, actor=staff)
    before = db_snapshot()

    for headers in ({}, {"HTTP_X_ORDER_TOKEN": GUEST[:-1]}):
        refused = post(api_client, cancel_url(order, made.number), **headers)
        assert (refused.status_code, refused.json()["error"]) == (404, "not_found")
    assert db_snapshot() == before

    response = post(api_client, cancel_url(order, made.number), HTTP_X_ORDER_TOKEN=GUEST)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    event = OrderEvent.objects.filter(order=order).last()
    assert event is not None
    assert event.note.startswith(f"Return {made.number}: approved -> cancelled.")
    assert (event.actor, event.actor_kind) == (None, "customer")
    # An approved return that was withdrawn can no longer be received.
    receive = post(
        jwt_client(staff),
        step_url(made.number, "receive"),
        {"lines": [{"line": order.lines.get().pk, "quantity": 1, "restock": False}]},
    )
    assert (receive.status_code, receive.json()["error"]) == (409, "invalid_state")


def test_another_customer_or_another_orders_return_is_a_404_that_changes_nothing(
    customer: User, other_client: APIClient, customer_client: APIClient, tee: Variant
) -> None:
    order = order_shipped(user=customer, lines=[(tee, 2)])
    other_order = order_shipped(user=customer, lines=[(variant_create(sku="CAP", stock=5), 1)])
    made = return_made(order, [(order.lines.get(), 1)], actor=customer)
    before = db_snapshot()

    cases = [
        (other_client, cancel_url(order, made.number)),  # B on A's order
        (customer_client, cancel_url(other_order, made.number)),  # a return of another order
        (customer_client, cancel_url(order, f"{order.number}-R9")),  # no such return
    ]
    for client, url in cases:
        response = post(client, url)
        assert (response.status_code, response.json()["error"]) == (404, "not_found"), url
    assert db_snapshot() == before


@pytest.mark.parametrize("status", ["received", "rejected", "cancelled"])
def test_a_return_that_is_not_requested_or_approved_cannot_be_cancelled(
    customer: User, customer_client: APIClient, staff: User, tee: Variant, status: str
) -> None:
    order = order_shipped(user=customer, lines=[(tee, 2)])
    made = return_made(order, [(order.lines.get(), 1)], actor=customer)
    if status == "received":
        return_received(made, actor=staff, line=order.lines.get().pk, quantity=1)
    elif status == "rejected":
        services.return_reject(return_request=made, actor=staff, staff_note="Worn")
    else:
        services.return_cancel(return_request=made, actor=customer)
    before = db_snapshot()

    response = post(customer_client, cancel_url(order, made.number))

    assert response.status_code == 409, response.content
    assert response.json() == {
        "error": "invalid_state",
        "details": {
            "message": f"A return that is {status} cannot become cancelled.",
            "status": status,
            "requested": "cancelled",
            "allowed": ["refunded"] if status == "received" else [],
        },
    }
    assert db_snapshot() == before


def test_staff_cancel_on_the_customers_behalf_on_either_route(
    customer: User, staff: User, staff_client: APIClient, tee: Variant
) -> None:
    order = order_shipped(user=customer, lines=[(tee, 3)])
    first = return_made(order, [(order.lines.get(), 1)], actor=customer)
    second = return_made(order, [(order.lines.get(), 1)], actor=customer)

    on_order = post(staff_client, cancel_url(order, first.number))
    on_return = post(staff_client, step_url(second.number, "cancel"))

    assert (on_order.status_code, on_return.status_code) == (200, 200)
    assert [on_order.json()["status"], on_return.json()["status"]] == ["cancelled"] * 2
    kinds = OrderEvent.objects.filter(order=order, note__contains="-> cancelled")
    assert list(kinds.values_list("actor", "actor_kind")) == [(staff.pk, "staff")] * 2
    # The customer cannot use the staff route.
    refused = post(jwt_client(customer), step_url(first.number, "cancel"))
    assert (refused.status_code, refused.json()["error"]) == (403, "permission_denied")


def test_a_replayed_idempotency_key_answers_the_first_cancel_again(
    customer: User, customer_client: APIClient, tee: Variant
) -> None:
    order = order_shipped(user=customer, lines=[(tee, 2)])
    made = return_made(order, [(order.lines.get(), 1)], actor=customer)
    url = cancel_url(order, made.number)

    first = post(customer_client, url, HTTP_IDEMPOTENCY_KEY="cancel-1")
    replay = post(customer_client, url, HTTP_IDEMPOTENCY_KEY="cancel-1")
    changed = post(customer_client, url, {"note": "x"}, HTTP_IDEMPOTENCY_KEY="cancel-1")
    unkeyed = post(customer_client, url)

    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert (changed.status_code, changed.json()["error"]) == (422, "idempotency_conflict")
    assert (unkeyed.status_code, unkeyed.json()["error"]) == (409, "invalid_state")
    assert OrderEvent.objects.filter(order=order, note__contains="-> cancelled").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [({"note": "changed my mind"}, "note"), ({"status": "cancelled"}, "status")],
)
def test_a_body_with_fields_is_a_400_that_changes_nothing(
    customer: User, customer_client: APIClient, tee: Variant, body: dict[str, Any], field: str
) -> None:
    order = order_shipped(user=customer, lines=[(tee, 2)])
    made = return_made(order, [(order.lines.get(), 1)], actor=customer)
    before = db_snapshot()

    response = post(customer_client, cancel_url(order, made.number), body)

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["details"]
    assert db_snapshot() == before
    assert ReturnRequest.objects.get().status == "requested"


def _cancel_queries(customer: User, n: int) -> int:
    variants = [variant_create(sku=f"C{n}-{i}", stock=5) for i in range(n)]
    order = order_shipped(user=customer, lines=[(v, 2) for v in variants])
    made = return_made(order, [(line, 1) for line in order.lines.order_by("pk")], actor=customer)
    client = jwt_client(customer)
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        response = post(client, cancel_url(order, made.number))
    count = len(captured)
    assert response.status_code == 200, response.content
    assert len(response.json()["lines"]) == n
    return count


# user, order (access), return + its lines (2), savepoint, lock order, lock return, units,
# update, event, release, answer (return, lines).
CANCEL_BUDGET = 13


def test_a_cancel_costs_the_same_queries_for_1_and_20_lines(customer: User) -> None:
    one, twenty = _cancel_queries(customer, 1), _cancel_queries(customer, 20)

    assert one == twenty
    print(f"\nreturn cancel: {one} queries (1 and 20 lines)")
    assert one <= CANCEL_BUDGET
