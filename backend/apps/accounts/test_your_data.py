"""The customer's own data: export it as JSON; delete the account (orders kept, anonymised)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.factories import ADDRESS, PASSWORD, AddressFactory, jwt_client
from apps.accounts.models import Address, User
from apps.cart.factories import cart_create
from apps.cart.models import Cart
from apps.catalog.factories import variant_create
from apps.notifications.models import EmailLog
from apps.orders.factories import CHECKOUT_BODY, checkout_url, order_create
from apps.orders.models import Order, OrderLine
from apps.payments.models import Payment

pytestmark = pytest.mark.django_db
ME = "/api/v1/auth/me/"


def test_export_has_the_account_addresses_and_own_orders_only(
    customer: User, other_customer: User
) -> None:
    AddressFactory.create(user=customer)
    mine = order_create(user=customer)
    order_create(user=other_customer)

    response = jwt_client(customer).get(f"{ME}export/")

    assert response.status_code == 200
    body = response.json()
    assert body["account"]["email"] == customer.email
    assert body["account"]["pending_email"] is None
    assert [a["line1"] for a in body["addresses"]] == [ADDRESS["line1"]]
    assert [o["number"] for o in body["orders"]] == [mine.number]
    assert body["orders"][0]["lines"][0]["quantity"] == 1
    assert body["orders"][0]["total"] == "12.50"
    assert body["exported_at"]


def test_staff_export_their_own_orders_not_the_shop(staff: User, customer: User) -> None:
    order_create(user=customer)
    assert jwt_client(staff).get(f"{ME}export/").json()["orders"] == []


def test_export_needs_a_signed_in_caller(api_client: APIClient) -> None:
    response = api_client.get(f"{ME}export/")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_delete_with_a_wrong_password_changes_nothing(customer: User) -> None:
    order = order_create(user=customer)
    response = jwt_client(customer).delete(ME, {"password": "wrong"}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["details"]
    assert User.objects.filter(pk=customer.pk).exists()
    order.refresh_from_db()
    assert order.user_id == customer.pk


def test_delete_anonymises_orders_keeps_the_money_and_stops_every_token(
    customer: User, api_client: APIClient
) -> None:
    AddressFactory.create(user=customer)
    cart_create(user=customer, lines=[(variant_create(), 1)])
    order = order_create(user=customer, email=customer.email)
    EmailLog.objects.create(order=order, kind="order_confirmation", recipient=customer.email)
    refresh = str(RefreshToken.for_user(customer))
    client = jwt_client(customer)

    response = client.delete(ME, {"password": PASSWORD}, format="json")

    assert response.status_code == 204, response.content
    assert not User.objects.filter(pk=customer.pk).exists()
    assert not Address.objects.exists()
    assert not Cart.objects.filter(user_id=customer.pk).exists()
    order.refresh_from_db()
    assert order.user_id is None
    assert order.email.endswith("@deleted.invalid")
    assert order.shipping_address["country"] == ADDRESS["country"]
    assert order.shipping_address["name"] == ""
    assert order.shipping_address["line1"] == ""
    # The financial record stays whole.
    assert str(order.total) == "12.50"
    assert OrderLine.objects.filter(order=order).count() == 1
    assert Payment.objects.filter(order=order).count() == 1
    assert not EmailLog.objects.filter(recipient=customer.email).exists()
    # Tokens stop working: the access token (no such user) and the refresh token.
    assert client.get(ME).status_code == 401
    refreshed = api_client.post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert refreshed.status_code == 401


def test_after_deletion_the_same_email_checks_out_as_a_guest(
    customer: User, api_client: APIClient
) -> None:
    email = customer.email
    order_create(user=customer, email=email)
    assert jwt_client(customer).delete(ME, {"password": PASSWORD}, format="json").status_code == 204

    cart = cart_create(lines=[(variant_create(), 1)])
    response = api_client.post(checkout_url(cart), {**CHECKOUT_BODY, "email": email}, format="json")

    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.user_id is None
    assert order.email == email
    assert response.json()["access_token"]  # a guest's order, reached by its token
    assert Order.objects.filter(email=email).count() == 1  # the old one is anonymised
    again = api_client.post(
        "/api/v1/auth/register/", {"email": email, "password": "a-long-new-passphrase-1"}
    )
    assert again.status_code == 201
