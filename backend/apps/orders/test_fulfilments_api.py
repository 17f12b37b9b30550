"""Issue 18, fulfilment over HTTP: ``POST /orders/{id}/fulfilments/`` and its ``ship`` and
``cancel`` verbs (staff), the parcels on ``GET /orders/{id}/``, and their query budgets,
the same for 1 and 20 lines."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.catalog.factories import ledger_sum, make_warehouse, on_hand, receive, variant_create
from apps.catalog.models import Stock
from apps.notifications.models import EmailLog
from apps.orders.models import Fulfilment, Order
from apps.payments.factories import order_paid

pytestmark = pytest.mark.django_db


def _order(customer: User, lines: int = 1, quantity: int = 2) -> Order:
    return order_paid(
        user=customer, lines=[(variant_create(stock=5), quantity) for _ in range(lines)]
    )


def _url(order: Order, *rest: str) -> str:
    return "/".join([f"/api/v1/orders/{order.pk}", *rest, ""])


def _body(order: Order, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "lines": [{"line": line.pk, "quantity": quantity} for line in order.lines.order_by("id")],
        "warehouse": "default",
        "carrier": "DHL",
        "tracking_number": "JD0001",
        "tracking_url": "https://track.example/JD0001",
        **extra,
    }


def test_staff_pack_ship_and_the_customer_sees_the_parcel(
    customer: User, customer_client: APIClient, staff_client: APIClient
) -> None:
    order = _order(customer)
    line = order.lines.get()

    created = staff_client.post(_url(order, "fulfilments"), _body(order), format="json")

    assert created.status_code == 201, created.content
    parcel = created.json()
    assert parcel | {"created_at": None} == {
        "number": f"{order.number}-F1",
        "status": "pending",
        "warehouse": "default",
        "carrier": "DHL",
        "tracking_number": "JD0001",
        "tracking_url": "https://track.example/JD0001",
        "created_at": None,
        "shipped_at": None,
        "cancelled_at": None,
        "lines": [{"line": line.pk, "sku": line.sku, "quantity": 1}],
    }
    shipped = staff_client.post(_url(order, "fulfilments", parcel["number"], "ship"), format="json")
    assert shipped.status_code == 200, shipped.content
    assert (shipped.json()["status"], shipped.json()["shipped_at"] is not None) == ("shipped", True)
    again = staff_client.post(_url(order, "fulfilments", parcel["number"], "ship"), format="json")
    assert (again.status_code, again.json()["error"]) == (409, "invalid_state")
    assert EmailLog.objects.filter(order=order, kind="order_shipped").count() == 1

    detail = customer_client.get(_url(order)).json()
    assert detail["status"] == "partially_fulfilled"
    assert [(f["number"], f["status"], f["tracking_url"]) for f in detail["fulfilments"]] == [
        (parcel["number"], "shipped", "https://track.example/JD0001")
    ]
    listed = customer_client.get("/api/v1/orders/").json()["results"][0]
    assert listed["fulfilments"] == detail["fulfilments"]


def test_cancel_gives_the_stock_back_and_a_second_cancel_is_409(
    customer: User, staff_client: APIClient
) -> None:
    order = _order(customer)
    variant = order.lines.get().variant
    assert variant is not None
    variant_id = variant.pk
    north = make_warehouse(code="north", priority=10)
    receive(variant, 3, warehouse=north)
    number = staff_client.post(
        _url(order, "fulfilments"), _body(order, quantity=2, warehouse="north"), format="json"
    ).json()["number"]
    assert on_hand(variant_id, warehouse=north) == 1  # type: ignore[arg-type]

    cancelled = staff_client.post(_url(order, "fulfilments", number, "cancel"), format="json")

    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"
    assert on_hand(variant_id, warehouse=north) == 3  # type: ignore[arg-type]
    for row in Stock.objects.filter(variant_id=variant_id):
        assert ledger_sum(variant_id, warehouse=row.warehouse) == row.on_hand
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    again = staff_client.post(_url(order, "fulfilments", number, "cancel"), format="json")
    assert (again.status_code, again.json()["error"]) == (409, "invalid_state")


def test_only_staff_may_fulfil_and_others_get_a_404(
    customer: User,
    customer_client: APIClient,
    other_client: APIClient,
    api_client: APIClient,
    staff_client: APIClient,
) -> None:
    order = _order(customer)
    body = _body(order)
    own = customer_client.post(_url(order, "fulfilments"), body, format="json")
    assert (own.status_code, own.json()["error"]) == (403, "permission_denied")
    assert other_client.post(_url(order, "fulfilments"), body, format="json").status_code == 404
    assert api_client.post(_url(order, "fulfilments"), body, format="json").status_code == 401
    parcel = staff_client.post(_url(order, "fulfilments"), body, format="json").json()
    for verb in ("ship", "cancel"):
        url = _url(order, "fulfilments", parcel["number"], verb)
        assert customer_client.post(url, format="json").status_code == 403
        assert other_client.post(url, format="json").status_code == 404
    missing = staff_client.post(_url(order, "fulfilments", "SO-NOPE-F9", "ship"), format="json")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert Fulfilment.objects.get().status == "pending"


def test_an_idempotency_key_replays_the_parcel_instead_of_packing_twice(
    customer: User, staff_client: APIClient
) -> None:
    order = _order(customer)
    headers = {"HTTP_IDEMPOTENCY_KEY": "pack-1"}
    first = staff_client.post(_url(order, "fulfilments"), _body(order), format="json", **headers)
    replay = staff_client.post(_url(order, "fulfilments"), _body(order), format="json", **headers)
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert Fulfilment.objects.filter(order=order).count() == 1
    changed = staff_client.post(
        _url(order, "fulfilments"), _body(order, ship=True), format="json", **headers
    )
    assert (changed.status_code, changed.json()["error"]) == (422, "idempotency_conflict")


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"lines": []}, "lines"),
        ({"lines": [{"line": "1", "quantity": 1}]}, "lines"),
        ({"lines": [{"line": 1, "quantity": 1.5}]}, "lines"),
        ({"lines": [{"line": 1, "quantity": 0}]}, "lines"),
        ({"warehouse": "no such code!"}, "warehouse"),
        ({"tracking_url": "javascript:alert(1)"}, "tracking_url"),
        ({"ship": "yes"}, "ship"),
        ({"status": "shipped"}, "status"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    customer: User, staff_client: APIClient, patch: dict[str, Any], field: str
) -> None:
    order = _order(customer)
    response = staff_client.post(
        _url(order, "fulfilments"), {**_body(order), **patch}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["details"]
    assert not Fulfilment.objects.exists()


def test_a_repeated_line_is_a_400(customer: User, staff_client: APIClient) -> None:
    order = _order(customer)
    body = _body(order)
    body["lines"] = body["lines"] * 2
    response = staff_client.post(_url(order, "fulfilments"), body, format="json")
    assert (response.status_code, response.json()["error"]) == (400, "validation_error")
    assert "lines" in response.json()["details"]


# --- query budgets ------------------------------------------------------------------------

# Fixed whatever the number of lines (SQLite; PostgreSQL runs the same statements).
# Create (19): the staff user, the order (access), SAVEPOINT, the order locked, the
# warehouse, the order's lines, its allocations locked, the units in parcels per (line,
# warehouse), the parcel count, the pending refunds' restock units, INSERT parcel, INSERT
# its lines, UPDATE the lines, the totals, UPDATE order, INSERT event, RELEASE, then the
# answer: the parcel with its warehouse, and its lines with their order lines.
# Ship (15): user, order, parcel, SAVEPOINT, order locked, parcel locked, UPDATE parcel,
# INSERT event, the email log's get_or_create (SELECT, SAVEPOINT, INSERT, RELEASE),
# RELEASE, the answer (2).
# Cancel (17): user, order, parcel, SAVEPOINT, order locked, allocations locked, parcel
# locked, its lines, UPDATE lines, the pending refunds' restock units, UPDATE parcel,
# totals, UPDATE order, INSERT event, RELEASE, the answer (2). Moves between warehouses
# add a fixed few (stock, ledger).
# Detail (6): user, order, lines, payments, parcels with warehouse, their lines.
# Create and cancel also read the pending refunds' restock units (reserved: one query).
CREATE_QUERIES = 19
SHIP_QUERIES = 15
CANCEL_QUERIES = 17
DETAIL_QUERIES = 6


def _count(client_call: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client_call()
    assert response.status_code in (200, 201), response.content
    return len(ctx.captured_queries)


@pytest.mark.parametrize("lines", [1, 20])
def test_query_counts_are_the_same_for_1_and_20_lines(
    customer: User, customer_client: APIClient, staff_client: APIClient, lines: int
) -> None:
    order = _order(customer, lines=lines)
    staff_client.get("/api/v1/orders/")  # warm the per-process caches (content types ...)

    body = _body(order)
    created = _count(lambda: staff_client.post(_url(order, "fulfilments"), body, format="json"))
    number = Fulfilment.objects.get().number
    shipped = _count(
        lambda: staff_client.post(_url(order, "fulfilments", number, "ship"), format="json")
    )
    second = staff_client.post(_url(order, "fulfilments"), body, format="json").json()
    cancelled = _count(
        lambda: staff_client.post(
            _url(order, "fulfilments", second["number"], "cancel"), format="json"
        )
    )
    detail = _count(lambda: customer_client.get(_url(order)))

    assert (created, shipped, cancelled, detail) == (
        CREATE_QUERIES,
        SHIP_QUERIES,
        CANCEL_QUERIES,
        DETAIL_QUERIES,
    )


def test_a_parcel_moving_units_between_warehouses_costs_the_same_for_1_and_20_lines(
    customer: User, staff_client: APIClient
) -> None:
    north = make_warehouse(code="north", priority=10)
    staff_client.get("/api/v1/orders/")  # warm the per-process caches
    counts = []
    for lines in (1, 20):
        order = _order(customer, lines=lines)
        for line in order.lines.all():
            assert line.variant is not None
            receive(line.variant, 3, warehouse=north)
        body = _body(order, warehouse="north")
        created = _count(
            lambda body=body, order=order: staff_client.post(
                _url(order, "fulfilments"), body, format="json"
            )
        )
        number = Fulfilment.objects.get(order=order).number
        cancelled = _count(
            lambda number=number, order=order: staff_client.post(
                _url(order, "fulfilments", number, "cancel"), format="json"
            )
        )
        counts.append((created, cancelled))
    # Create: 19 + the stock rows locked, and per reason (release, sale) one UPDATE of the
    # rows and one INSERT of the movements, then the source allocations' UPDATE and the
    # moved ones' INSERT (26). Cancel: 17 + stock locked, the allocations' UPDATE, and
    # the two reasons' UPDATE + INSERT (23).
    assert counts == [(26, 23), (26, 23)]
    for row in Stock.objects.all():
        assert ledger_sum(row.variant_id, warehouse=row.warehouse) == row.on_hand
