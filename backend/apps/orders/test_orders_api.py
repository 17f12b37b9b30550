"""Orders API: who sees which order, the timeline, cancel (stock back, refund when paid),
fulfil (staff only), and read-only money and status."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.cart.models import Cart
from apps.catalog.models import Stock, StockMovement, Variant
from apps.notifications.models import EmailLog
from apps.orders.factories import CHECKOUT_BODY, checkout_url
from apps.orders.models import Order, OrderEvent
from apps.orders.transitions import order_transition
from apps.payments.models import Payment, Refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def place(
    make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> Callable[..., dict[str, Any]]:
    """Check out a cart through the API; returns the 201 body."""
    counter = {"n": 0}

    def place(client: APIClient, *, user: User | None = None, quantity: int = 2) -> dict[str, Any]:
        counter["n"] += 1
        variant = make_variant(sku=f"V{counter['n']}", stock=5)
        cart = make_cart(user=user, lines=[(variant, quantity)])
        body = {k: v for k, v in CHECKOUT_BODY.items() if not (user and k == "email")}
        response = client.post(checkout_url(cart), body, format="json")
        assert response.status_code == 201, response.content
        return dict(response.json())

    return place


@pytest.fixture
def own_order(
    customer: User, customer_client: APIClient, place: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    """An order the customer placed (two units of a fresh variant with five in stock)."""
    return place(customer_client, user=customer)


@pytest.fixture
def guest_order(api_client: APIClient, place: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """An order a guest placed (``access_token`` holds its token)."""
    return place(api_client)


def _url(order: dict[str, Any], verb: str = "") -> str:
    return f"/api/v1/orders/{order['id']}/" + (f"{verb}/" if verb else "")


def _mark_paid(order_id: str) -> None:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        order_transition(order=order, to_status=Order.Status.PAID)


def _on_hand(order: dict[str, Any]) -> int:
    return Stock.objects.get(variant_id=order["lines"][0]["variant_id"]).on_hand


# --- list and retrieve -----------------------------------------------------------------


def test_customers_list_their_own_orders_newest_first(
    customer: User,
    customer_client: APIClient,
    other_customer: User,
    other_client: APIClient,
    place: Callable[..., dict[str, Any]],
) -> None:
    first = place(customer_client, user=customer)
    second = place(customer_client, user=customer)
    place(other_client, user=other_customer)
    Order.objects.filter(pk=first["id"]).update(created_at=timezone.now() - timedelta(hours=1))

    response = customer_client.get("/api/v1/orders/")

    assert response.status_code == 200
    assert [o["id"] for o in response.json()["results"]] == [second["id"], first["id"]]
    assert response.json()["results"][0]["lines"][0]["quantity"] == 2
    assert response.json()["results"][0]["access_token"] is None


def test_anonymous_callers_cannot_list_orders(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/orders/")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_staff_list_every_order_with_filters(
    customer_client: APIClient,
    staff_client: APIClient,
    own_order: dict[str, Any],
    guest_order: dict[str, Any],
) -> None:
    mine, guest = own_order, guest_order
    customer_client.post(_url(mine, "cancel"), {}, format="json")
    Order.objects.filter(pk=guest["id"]).update(created_at=timezone.now() - timedelta(days=3))

    def ids(query: str) -> list[str]:
        response = staff_client.get(f"/api/v1/orders/?{query}")
        assert response.status_code == 200, response.content
        return [o["id"] for o in response.json()["results"]]

    assert set(ids("")) == {mine["id"], guest["id"]}
    assert ids("status=cancelled") == [mine["id"]]
    assert ids("email=GUEST@example.com") == [guest["id"]]
    before = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"created_before={before}") == [guest["id"]]
    assert ids(f"created_after={before}") == [mine["id"]]
    bad = staff_client.get("/api/v1/orders/?status=lost")
    assert bad.status_code == 400
    assert bad.json()["error"] == "validation_error"


def test_owner_staff_and_token_holder_can_read_an_order(
    customer_client: APIClient,
    staff_client: APIClient,
    api_client: APIClient,
    own_order: dict[str, Any],
    guest_order: dict[str, Any],
) -> None:
    mine, guest = own_order, guest_order

    own = customer_client.get(_url(mine))
    assert own.status_code == 200
    assert own.json()["number"] == mine["number"]
    assert own.json()["payment"]["status"] == "pending"
    assert own.json()["access_token"] is None  # shown once, at checkout
    assert staff_client.get(_url(guest)).status_code == 200
    with_token = api_client.get(_url(guest), HTTP_X_ORDER_TOKEN=guest["access_token"])
    assert with_token.status_code == 200
    assert with_token.json()["total"] == guest["total"]
    assert api_client.get(_url(guest)).status_code == 404
    assert api_client.get(_url(guest), HTTP_X_ORDER_TOKEN="wrong").status_code == 404
    assert api_client.get(_url(mine), HTTP_X_ORDER_TOKEN=guest["access_token"]).status_code == 404


def test_another_users_order_is_404_on_every_verb(
    customer_client: APIClient,
    other_client: APIClient,
    own_order: dict[str, Any],
) -> None:
    order = own_order
    _mark_paid(order["id"])
    assert other_client.get(_url(order)).status_code == 404
    assert other_client.get(_url(order, "events")).status_code == 404
    assert other_client.post(_url(order, "cancel"), {}, format="json").status_code == 404
    fulfil = {"carrier": "DHL", "tracking_number": "1"}
    assert other_client.post(_url(order, "fulfil"), fulfil, format="json").status_code == 404
    assert other_client.get("/api/v1/orders/").json()["results"] == []
    assert Order.objects.get(pk=order["id"]).status == Order.Status.PAID


def test_orders_cannot_be_edited_or_deleted_through_the_api(
    customer_client: APIClient, own_order: dict[str, Any]
) -> None:
    order = own_order
    for method in ("put", "patch", "delete"):
        response = getattr(customer_client, method)(
            _url(order), {"status": "paid", "total": "0.01"}, format="json"
        )
        assert response.status_code == 405
    assert customer_client.post("/api/v1/orders/", {}, format="json").status_code == 405
    stored = Order.objects.get(pk=order["id"])
    assert stored.status == Order.Status.PENDING_PAYMENT
    assert str(stored.total) == order["total"]


def test_the_timeline_lists_each_change_with_its_actor(
    customer: User,
    customer_client: APIClient,
    api_client: APIClient,
    place: Callable[..., dict[str, Any]],
) -> None:
    order = place(customer_client, user=customer)
    customer_client.post(_url(order, "cancel"), {"reason": "changed my mind"}, format="json")

    events = customer_client.get(_url(order, "events")).json()

    assert [(e["from"], e["to"], e["actor"], e["actor_kind"]) for e in events] == [
        ("", "pending_payment", customer.email, "customer"),
        ("pending_payment", "cancelled", customer.email, "customer"),
    ]
    assert events[1]["note"] == "changed my mind"
    assert set(events[0]) == {"id", "from", "to", "actor", "actor_kind", "time", "note", "trace_id"}
    guest = place(api_client)
    guest_events = api_client.get(_url(guest, "events"), HTTP_X_ORDER_TOKEN=guest["access_token"])
    assert guest_events.status_code == 200
    assert guest_events.json()[0]["actor"] is None


# --- cancel ----------------------------------------------------------------------------


def test_cancelling_a_pending_order_gives_the_stock_back(
    customer: User,
    customer_client: APIClient,
    place: Callable[..., dict[str, Any]],
    django_capture_on_commit_callbacks: Any,
    published: list[tuple[str, tuple[Any, ...]]],
) -> None:
    order = place(customer_client, user=customer, quantity=2)
    assert _on_hand(order) == 3

    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(_url(order, "cancel"), {}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancelled_at"] is not None
    variant_id = order["lines"][0]["variant_id"]
    assert _on_hand(order) == 5
    ledger = StockMovement.objects.filter(variant_id=variant_id).aggregate(s=Sum("quantity"))
    assert ledger["s"] == 5
    release = StockMovement.objects.get(reason="release")
    assert (release.quantity, str(release.order_id), release.actor) == (2, order["id"], customer)
    assert not Refund.objects.filter(order_id=order["id"]).exists()  # nothing paid: no refund
    email = EmailLog.objects.get(order_id=order["id"])
    assert (email.kind, email.recipient) == ("order_cancelled", customer.email)
    assert ("apps.notifications.tasks.order_email_send_task", (email.pk,)) in published


def test_a_guest_cancels_with_the_order_token(
    api_client: APIClient, guest_order: dict[str, Any]
) -> None:
    order = guest_order
    assert api_client.post(_url(order, "cancel"), {}, format="json").status_code == 404
    response = api_client.post(
        _url(order, "cancel"), {}, format="json", HTTP_X_ORDER_TOKEN=order["access_token"]
    )
    assert response.status_code == 200
    assert _on_hand(order) == 5
    assert OrderEvent.objects.filter(order_id=order["id"]).last().actor_kind == "customer"  # type: ignore[union-attr]


def test_cancelling_a_captured_order_releases_stock_and_starts_a_full_refund(
    customer: User, customer_client: APIClient, own_order: dict[str, Any]
) -> None:
    order = own_order
    Payment.objects.filter(order_id=order["id"]).update(
        status=Payment.Status.CAPTURED, captured_at=timezone.now(), provider_reference="ch_1"
    )
    _mark_paid(order["id"])

    response = customer_client.post(_url(order, "cancel"), {}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    refund = Refund.objects.get(order_id=order["id"])
    assert (str(refund.amount), refund.restock, refund.created_by) == (
        order["total"],
        False,
        customer,
    )
    assert refund.reason  # the cancellation note
    assert refund.status == Refund.Status.PENDING
    assert _on_hand(order) == 5  # released by the cancellation, not again by the refund
    assert Order.objects.get(pk=order["id"]).status == Order.Status.CANCELLED


def test_staff_cancel_is_recorded_as_staff(
    customer_client: APIClient,
    staff: User,
    staff_client: APIClient,
    own_order: dict[str, Any],
) -> None:
    order = own_order
    assert staff_client.post(_url(order, "cancel"), {}, format="json").status_code == 200
    event = OrderEvent.objects.filter(order_id=order["id"]).last()
    assert event is not None
    assert (event.actor, event.actor_kind) == (staff, "staff")


@pytest.mark.parametrize("status", ["fulfilled", "cancelled"])
def test_cancel_is_409_once_fulfilled_or_cancelled(
    customer_client: APIClient,
    own_order: dict[str, Any],
    status: str,
) -> None:
    order = own_order
    if status == "fulfilled":
        _mark_paid(order["id"])
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order["id"])
            order_transition(order=locked, to_status=Order.Status.FULFILLED)
    else:
        customer_client.post(_url(order, "cancel"), {}, format="json")
    stock_before = _on_hand(order)

    response = customer_client.post(_url(order, "cancel"), {}, format="json")

    assert response.status_code == 409
    assert response.json()["error"] == "invalid_state"
    assert _on_hand(order) == stock_before


def test_cancel_refuses_unknown_fields(
    customer_client: APIClient, own_order: dict[str, Any]
) -> None:
    order = own_order
    response = customer_client.post(_url(order, "cancel"), {"status": "paid"}, format="json")
    assert response.status_code == 400
    assert Order.objects.get(pk=order["id"]).status == Order.Status.PENDING_PAYMENT


# --- fulfil ----------------------------------------------------------------------------

FULFIL = {"carrier": "DHL", "tracking_number": "JD0123456789"}


def test_staff_fulfil_a_paid_order(
    customer_client: APIClient,
    staff_client: APIClient,
    own_order: dict[str, Any],
) -> None:
    order = own_order
    _mark_paid(order["id"])

    response = staff_client.post(_url(order, "fulfil"), FULFIL, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["carrier"], body["tracking_number"]) == (
        "fulfilled",
        "DHL",
        "JD0123456789",
    )
    assert body["fulfilled_at"] is not None
    assert EmailLog.objects.filter(order_id=order["id"], kind="order_fulfilled").count() == 1
    event = OrderEvent.objects.filter(order_id=order["id"]).last()
    assert event is not None
    assert (event.from_status, event.to_status, event.actor_kind) == ("paid", "fulfilled", "staff")


def test_fulfil_is_refused_for_customers_guests_and_unpaid_orders(
    customer_client: APIClient,
    staff_client: APIClient,
    api_client: APIClient,
    own_order: dict[str, Any],
) -> None:
    order = own_order
    unpaid = staff_client.post(_url(order, "fulfil"), FULFIL, format="json")
    assert unpaid.status_code == 409
    assert unpaid.json()["error"] == "invalid_state"
    _mark_paid(order["id"])
    own = customer_client.post(_url(order, "fulfil"), FULFIL, format="json")
    assert own.status_code == 403
    assert own.json()["error"] == "permission_denied"
    assert api_client.post(_url(order, "fulfil"), FULFIL, format="json").status_code == 401
    missing = staff_client.post(_url(order, "fulfil"), {"carrier": "DHL"}, format="json")
    assert missing.status_code == 400
    assert "tracking_number" in missing.json()["details"]
    assert Order.objects.get(pk=order["id"]).status == Order.Status.PAID
