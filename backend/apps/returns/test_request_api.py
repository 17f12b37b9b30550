"""Asking for a return: who may, how many units, within which window; refusals change nothing."""

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
from apps.payments.factories import order_paid
from apps.returns.conftest import post, returns_url
from apps.returns.factories import order_shipped, return_made
from apps.returns.models import ReturnLine, ReturnRequest
from apps.returns.services import return_reject
from config.testing import db_snapshot

pytestmark = pytest.mark.django_db

GUEST = "guest-token-returns-0123456789abcdef0123456789"


def _body(*units: tuple[int, int], reason: str = "damaged", note: str = "") -> dict[str, Any]:
    return {
        "lines": [{"line": line, "quantity": qty} for line, qty in units],
        "reason": reason,
        "note": note,
    }


def test_the_owner_asks_to_return_shipped_units(
    customer: User, customer_client: APIClient, tee: Variant, mug: Variant, shipped_order: Any
) -> None:
    order = shipped_order(user=customer, lines=[(tee, 3), (mug, 1)])
    tee_line, mug_line = order.lines.order_by("pk")

    response = post(
        customer_client,
        returns_url(order),
        _body((tee_line.pk, 2), (mug_line.pk, 1), note="The seams came apart"),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == f"{order.number}-R1"
    assert (body["status"], body["reason"], body["note"]) == (
        "requested",
        "damaged",
        "The seams came apart",
    )
    assert body["order"] == str(order.pk)
    assert [
        (ln["line"], ln["sku"], ln["quantity"], ln["quantity_received"]) for ln in body["lines"]
    ] == [
        (tee_line.pk, "TEE", 2, 0),
        (mug_line.pk, "MUG", 1, 0),
    ]
    assert body["refund"] is None
    row = ReturnRequest.objects.get()
    assert (row.order_id, row.created_by, row.status) == (order.pk, customer, "requested")
    event = OrderEvent.objects.filter(order=order).last()
    assert event is not None
    assert event.note.startswith(f"Return {row.number} requested: 3 unit(s) of 2 line(s)")
    assert (event.actor, event.actor_kind) == (customer, "customer")
    tee_line.refresh_from_db()
    assert tee_line.quantity_returned == 0  # counted when the units arrive, not before
    # The second return of the order gets the next number.
    again = post(customer_client, returns_url(order), _body((tee_line.pk, 1)))
    assert again.json()["number"] == f"{order.number}-R2"


def test_a_guest_asks_with_its_order_token_and_lists_its_returns(
    api_client: APIClient, tee: Variant, shipped_order: Any
) -> None:
    order = shipped_order(guest_token=GUEST, lines=[(tee, 2)])
    line = order.lines.get()
    before = db_snapshot()

    for headers in ({}, {"HTTP_X_ORDER_TOKEN": GUEST[:-1]}):
        refused = post(api_client, returns_url(order), _body((line.pk, 1)), **headers)
        assert refused.status_code == 404
        assert refused.json()["error"] == "not_found"
        assert api_client.get(returns_url(order), **headers).status_code == 404
    assert db_snapshot() == before

    created = post(api_client, returns_url(order), _body((line.pk, 1)), HTTP_X_ORDER_TOKEN=GUEST)
    assert created.status_code == 201, created.content
    assert ReturnRequest.objects.get().created_by is None
    listed = api_client.get(returns_url(order), HTTP_X_ORDER_TOKEN=GUEST)
    assert [r["number"] for r in listed.json()] == [created.json()["number"]]


def test_another_customers_order_is_a_404_and_nothing_changes(
    customer: User,
    other_client: APIClient,
    staff_client: APIClient,
    tee: Variant,
    shipped_order: Any,
) -> None:
    order = shipped_order(user=customer, lines=[(tee, 2)])
    line = order.lines.get()
    return_made(order, [(line, 1)], actor=customer)
    before = db_snapshot()

    refused = post(other_client, returns_url(order), _body((line.pk, 1)))
    listed = other_client.get(returns_url(order))

    assert (refused.status_code, refused.json()["error"]) == (404, "not_found")
    assert (listed.status_code, listed.json()["error"]) == (404, "not_found")
    assert db_snapshot() == before
    # Staff see every order's returns.
    assert len(staff_client.get(returns_url(order)).json()) == 1


def _refused(client: APIClient, order: Order, body: dict[str, Any]) -> Any:
    before = db_snapshot()
    response = post(client, returns_url(order), body)
    assert db_snapshot() == before, "a refused return request wrote"
    return response


def test_more_units_than_shipped_are_refused_line_by_line(
    customer: User, customer_client: APIClient, tee: Variant, mug: Variant, shipped_order: Any
) -> None:
    order = shipped_order(user=customer, lines=[(tee, 3), (mug, 2)], shipped=[3, 1])
    tee_line, mug_line = order.lines.order_by("pk")

    response = _refused(customer_client, order, _body((tee_line.pk, 3), (mug_line.pk, 2)))

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert response.json()["details"]["lines"] == {
        "1": {"quantity": ["At most 1 of MUG can be returned."]}
    }


def test_units_packed_but_not_shipped_cannot_be_returned(
    customer: User, customer_client: APIClient, tee: Variant, mug: Variant, shipped_order: Any
) -> None:
    order = shipped_order(user=customer, lines=[(tee, 3), (mug, 1)], shipped=[1, 0], packed=[2, 1])
    tee_line, mug_line = order.lines.order_by("pk")

    response = _refused(customer_client, order, _body((tee_line.pk, 2), (mug_line.pk, 1)))

    assert response.status_code == 400
    assert response.json()["details"]["lines"] == {
        "0": {"quantity": ["At most 1 of TEE can be returned."]},
        "1": {"line": [f"Line {mug_line.pk} (MUG) has not shipped."]},
    }


def test_a_line_of_another_order_or_listed_twice_is_refused(
    customer: User, customer_client: APIClient, tee: Variant, shipped_order: Any
) -> None:
    order = shipped_order(user=customer, lines=[(tee, 3)])
    other = shipped_order(user=customer, lines=[(tee, 1)])
    line, foreign = order.lines.get(), other.lines.get()

    response = _refused(customer_client, order, _body((line.pk, 1), (line.pk, 1), (foreign.pk, 1)))

    assert response.status_code == 400
    assert response.json()["details"]["lines"] == {
        "1": {"line": [f"Line {line.pk} is listed twice."]},
        "2": {"line": [f"No line {foreign.pk} in this order."]},
    }


def test_units_in_open_returns_are_taken_until_the_return_is_rejected(
    customer: User, staff: User, customer_client: APIClient, tee: Variant, shipped_order: Any
) -> None:
    order = shipped_order(user=customer, lines=[(tee, 3)])
    line = order.lines.get()
    first = return_made(order, [(line, 2)], actor=customer)

    response = _refused(customer_client, order, _body((line.pk, 2)))
    assert response.json()["details"]["lines"] == {
        "0": {"quantity": ["At most 1 of TEE can be returned."]}
    }

    return_reject(return_request=first, actor=staff, staff_note="Worn")
    again = post(customer_client, returns_url(order), _body((line.pk, 3)))
    assert again.status_code == 201, again.content


def test_an_order_that_has_not_shipped_has_nothing_to_return(
    customer: User, customer_client: APIClient, tee: Variant
) -> None:
    order = order_paid(user=customer, lines=[(tee, 1)])

    response = _refused(customer_client, order, _body((order.lines.get().pk, 1)))

    assert response.status_code == 409
    assert response.json()["error"] == "invalid_state"
    assert response.json()["details"]["status"] == "paid"


def test_a_return_after_the_window_closed_is_refused(
    customer: User,
    customer_client: APIClient,
    tee: Variant,
    shipped_order: Any,
    settings: Any,
) -> None:
    settings.RETURN_WINDOW_DAYS = 14
    order = shipped_order(user=customer, lines=[(tee, 1)], shipped_days_ago=15)
    line = order.lines.get()

    response = _refused(customer_client, order, _body((line.pk, 1)))

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "return_window_closed"
    assert body["details"]["window_days"] == 14
    assert [(item["line"], item["sku"]) for item in body["details"]["lines"]] == [(line.pk, "TEE")]
    settings.RETURN_WINDOW_DAYS = 16  # the same parcel is within a longer window
    assert post(customer_client, returns_url(order), _body((line.pk, 1))).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": [], "reason": "damaged"}, "lines"),
        ({"lines": [{"line": 1, "quantity": 0}], "reason": "damaged"}, "lines"),
        ({"lines": [{"line": 1, "quantity": 1.0}], "reason": "damaged"}, "lines"),
        ({"lines": [{"line": "1", "quantity": 1}], "reason": "damaged"}, "lines"),
        ({"lines": [{"line": 1, "quantity": 1, "price": "1.00"}], "reason": "damaged"}, "lines"),
        ({"lines": [{"line": 1, "quantity": 1}], "reason": "bored"}, "reason"),
        ({"lines": [{"line": 1, "quantity": 1}]}, "reason"),
        ({"lines": [{"line": 1, "quantity": 1}], "reason": "other", "note": "x" * 1001}, "note"),
        (
            {"lines": [{"line": 1, "quantity": 1}], "reason": "other", "status": "refunded"},
            "status",
        ),
    ],
)
def test_bad_bodies_are_400s_that_change_nothing(
    customer: User,
    customer_client: APIClient,
    tee: Variant,
    shipped_order: Any,
    body: dict[str, Any],
    field: str,
) -> None:
    order = shipped_order(user=customer, lines=[(tee, 1)])

    response = _refused(customer_client, order, body)

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["details"]


def test_a_replayed_idempotency_key_returns_the_first_answer_once(
    customer: User, customer_client: APIClient, tee: Variant, shipped_order: Any
) -> None:
    order = shipped_order(user=customer, lines=[(tee, 3)])
    line = order.lines.get()
    body = _body((line.pk, 1))

    first = post(customer_client, returns_url(order), body, HTTP_IDEMPOTENCY_KEY="ret-1")
    replay = post(customer_client, returns_url(order), body, HTTP_IDEMPOTENCY_KEY="ret-1")
    changed = post(
        customer_client, returns_url(order), _body((line.pk, 2)), HTTP_IDEMPOTENCY_KEY="ret-1"
    )

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert (changed.status_code, changed.json()["error"]) == (422, "idempotency_conflict")
    assert ReturnRequest.objects.count() == 1
    # Another customer's key of the same name is its own.
    assert ReturnLine.objects.get().quantity == 1


def test_a_guests_key_belongs_to_its_order_token(
    api_client: APIClient, tee: Variant, shipped_order: Any
) -> None:
    order = shipped_order(guest_token=GUEST, lines=[(tee, 2)])
    line = order.lines.get()
    headers = {"HTTP_X_ORDER_TOKEN": GUEST, "HTTP_IDEMPOTENCY_KEY": "guest-1"}

    first = post(api_client, returns_url(order), _body((line.pk, 1)), **headers)
    replay = post(api_client, returns_url(order), _body((line.pk, 1)), **headers)

    assert first.status_code == 201, first.content
    assert replay.json()["number"] == first.json()["number"]
    assert ReturnRequest.objects.count() == 1


def _counts(customer: User, n: int) -> dict[str, int]:
    variants = [variant_create(sku=f"Q{n}-{i}", stock=5) for i in range(n)]
    order = order_shipped(user=customer, lines=[(v, 2) for v in variants])
    body = _body(*[(line.pk, 1) for line in order.lines.order_by("pk")])
    client = jwt_client(customer)
    reset_queries()  # the log keeps 9000 queries: building 20 orders' worth must not count
    with CaptureQueriesContext(connection) as created:
        response = post(client, returns_url(order), body)
    created_count = len(created)  # now: the captured list is read from the log lazily
    assert response.status_code == 201, response.content
    assert len(response.json()["lines"]) == n
    post(client, returns_url(order), body)
    reset_queries()
    with CaptureQueriesContext(connection) as listed:
        answer = client.get(returns_url(order)).json()
    assert [len(r["lines"]) for r in answer] == [n, n]
    return {"created": created_count, "listed": len(listed)}


# user, order (access), savepoint, lock, lines, shipped, promised, count, insert return,
# insert lines, event, release, answer (return + order + refund, lines + line + warehouse).
CREATE_BUDGET = 14
LIST_BUDGET = 4  # user, order (access), returns (+ order, refund), lines (+ line, warehouse)


def test_asking_and_listing_cost_the_same_queries_for_1_and_20_lines(customer: User) -> None:
    one, twenty = _counts(customer, 1), _counts(customer, 20)

    assert one == twenty
    print(f"\nreturn request: {one['created']} queries, list: {one['listed']} (1 and 20 lines)")
    assert one["created"] <= CREATE_BUDGET, one
    assert one["listed"] <= LIST_BUDGET, one
