"""Order services called directly: the payment-deadline expiry, order numbers, the admin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.models import User
from apps.cart.models import Cart
from apps.catalog.models import Stock, StockMovement, Variant
from apps.notifications.models import EmailLog
from apps.orders import checkout
from apps.orders.factories import CHECKOUT_BODY
from apps.orders.models import Order, OrderEvent
from apps.orders.services import order_checkout, order_expire

pytestmark = pytest.mark.django_db


def _checkout(cart: Cart, user: User | None = None) -> Order:
    result = order_checkout(
        cart_id=cart.pk,
        user=user,
        email="guest@example.com",
        shipping_address=CHECKOUT_BODY["shipping_address"],
        billing_address=None,
        shipping_method="standard",
        payment_provider="sandbox",
        payment_token="tok_visa",
    )
    return result.order


def test_an_order_past_its_deadline_is_cancelled_by_the_system(
    make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> None:
    variant = make_variant(sku="A", stock=5)
    order = _checkout(make_cart(lines=[(variant, 2)]))
    Order.objects.filter(pk=order.pk).update(payment_deadline=timezone.now() - timedelta(seconds=1))

    assert order_expire(order_id=order.pk) is True
    assert order_expire(order_id=order.pk) is False  # a second sweep does nothing

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert Stock.objects.get(variant=variant).on_hand == 5
    assert StockMovement.objects.filter(order=order, reason="release").count() == 1
    event = OrderEvent.objects.filter(order=order).last()
    assert event is not None
    assert (event.to_status, event.actor_kind, event.actor) == ("cancelled", "system", None)
    assert EmailLog.objects.filter(order=order, kind="order_cancelled").count() == 1


def test_an_order_before_its_deadline_is_left_alone(
    make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> None:
    order = _checkout(make_cart(lines=[(make_variant(sku="A"), 1)]))
    assert order_expire(order_id=order.pk) is False
    assert order_expire(order_id="00000000-0000-4000-8000-000000000000") is False
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


def test_order_numbers_are_readable_and_distinct() -> None:
    numbers = {checkout.order_number_new() for _ in range(500)}
    assert len(numbers) == 500
    assert all(len(n) == 15 and n[6] == "-" for n in numbers)
    assert not any(set(n[7:]) & set("ILOU") for n in numbers)


def test_a_clashing_order_number_is_drawn_again(
    make_variant: Callable[..., Variant],
    make_cart: Callable[..., Cart],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    variant = make_variant(sku="A", stock=5)
    taken = _checkout(make_cart(lines=[(variant, 1)])).number
    numbers = iter([taken, "261127-FRESH000"])
    monkeypatch.setattr(checkout, "order_number_new", lambda: next(numbers))

    order = _checkout(make_cart(lines=[(variant, 1)]))

    assert order.number == "261127-FRESH000"
    assert Stock.objects.get(variant=variant).on_hand == 3  # the failed try changed nothing


def test_a_signed_in_buyer_of_a_guest_cart_owns_the_order(
    customer: User, make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> None:
    order = _checkout(make_cart(lines=[(make_variant(sku="A"), 1)]), user=customer)
    assert order.user == customer
    assert order.access_token_hash == ""


def test_admin_lists_searches_and_shows_orders_read_only(
    make_user: Callable[..., User],
    make_variant: Callable[..., Variant],
    make_cart: Callable[..., Cart],
) -> None:
    order = _checkout(make_cart(lines=[(make_variant(sku="ADMIN-SKU-1"), 1)]))
    admin = make_user("root@example.com", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)

    listing = client.get(
        "/admin/orders/order/", {"q": order.number, "status__exact": "pending_payment"}
    )
    assert listing.status_code == 200
    assert order.number in listing.content.decode()
    page = client.get(f"/admin/orders/order/{order.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "ADMIN-SKU-1" in html  # the lines inline
    assert "pending_payment" in html  # the events inline
    assert 'name="status"' not in html  # nothing to edit: status changes via services only
    assert client.get("/admin/orders/order/add/").status_code == 403
