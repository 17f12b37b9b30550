"""Claiming a guest cart after sign-in: adopt it, or merge it into the user's open cart."""

from __future__ import annotations

import pytest
from django.test.utils import override_settings
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.cart.models import Cart, CartItem
from apps.catalog.factories import make_product
from apps.catalog.models import Stock, Variant

pytestmark = pytest.mark.django_db

CARTS = "/api/v1/carts/"


def _variant(stock: int = 50) -> Variant:
    return make_product(prices=("10.00",), stock=stock).variants.get()


def _cart_with(client: APIClient, *lines: tuple[Variant, int]) -> str:
    cart_id = client.post(CARTS, {}, format="json").json()["id"]
    for variant, quantity in lines:
        response = client.post(
            f"{CARTS}{cart_id}/items/",
            {"variant_id": variant.pk, "quantity": quantity},
            format="json",
        )
        assert response.status_code == 200, response.content
    return cart_id


def _claim(client: APIClient, cart_id: str):
    return client.post(f"{CARTS}{cart_id}/claim/", {}, format="json")


def _quantities(cart_id: str) -> dict[int, int]:
    return dict(CartItem.objects.filter(cart_id=cart_id).values_list("variant_id", "quantity"))


def test_claim_needs_a_signed_in_user(api_client: APIClient) -> None:
    cart_id = _cart_with(api_client)
    response = _claim(api_client, cart_id)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert Cart.objects.get(pk=cart_id).user_id is None


def test_without_an_open_cart_the_guest_cart_becomes_the_users(
    api_client: APIClient, customer_client: APIClient, customer: User
) -> None:
    variant = _variant()
    guest_id = _cart_with(api_client, (variant, 2))
    response = _claim(customer_client, guest_id)
    assert response.status_code == 200
    assert response.json()["id"] == guest_id
    assert response.json()["item_count"] == 2
    cart = Cart.objects.get(pk=guest_id)
    assert (cart.user_id, cart.status) == (customer.pk, Cart.Status.OPEN)
    # Now it is the user's: the guest token alone no longer opens it.
    assert api_client.get(f"{CARTS}{guest_id}/").status_code == 404
    assert customer_client.post(CARTS, {}, format="json").json()["id"] == guest_id


def test_merge_sums_quantities_caps_them_and_abandons_the_guest_cart(
    api_client: APIClient, customer_client: APIClient, customer: User
) -> None:
    shared, scarce, guest_only, mine_only = _variant(500), _variant(6), _variant(50), _variant(50)
    guest_id = _cart_with(api_client, (shared, 60), (scarce, 4), (guest_only, 3))
    user_cart_id = _cart_with(customer_client, (shared, 45), (scarce, 3), (mine_only, 1))
    response = _claim(customer_client, guest_id)
    assert response.status_code == 200, response.content
    assert response.json()["id"] == user_cart_id
    assert _quantities(user_cart_id) == {
        shared.pk: 99,  # 45 + 60 capped at the per-line maximum
        scarce.pk: 6,  # 3 + 4 capped at what is on hand
        guest_only.pk: 3,
        mine_only.pk: 1,
    }
    assert response.json()["item_count"] == 99 + 6 + 3 + 1
    assert Cart.objects.get(pk=guest_id).status == Cart.Status.ABANDONED
    assert Cart.objects.get(pk=user_cart_id).status == Cart.Status.OPEN
    assert Cart.objects.filter(user=customer, status=Cart.Status.OPEN).count() == 1


def test_merge_drops_unavailable_lines_and_never_lowers_the_users_lines(
    api_client: APIClient, customer_client: APIClient
) -> None:
    retired, sold_out, mine = _variant(), _variant(5), _variant(10)
    guest_id = _cart_with(api_client, (retired, 1), (sold_out, 2), (mine, 1))
    user_cart_id = _cart_with(customer_client, (mine, 8))
    Variant.objects.filter(pk=retired.pk).update(is_active=False)
    Stock.objects.filter(variant__in=[sold_out, mine]).update(on_hand=0)
    assert _claim(customer_client, guest_id).status_code == 200
    assert _quantities(user_cart_id) == {mine.pk: 8}


@override_settings(CART_MAX_LINES=2)
def test_merge_stops_at_the_line_limit(api_client: APIClient, customer_client: APIClient) -> None:
    first, second, third = _variant(), _variant(), _variant()
    guest_id = _cart_with(api_client, (second, 1), (third, 1))
    user_cart_id = _cart_with(customer_client, (first, 1))
    assert _claim(customer_client, guest_id).status_code == 200
    assert _quantities(user_cart_id) == {first.pk: 1, second.pk: 1}


def test_claiming_a_closed_guest_cart_is_invalid_state(
    api_client: APIClient, customer_client: APIClient
) -> None:
    variant = _variant()
    guest_id = _cart_with(api_client, (variant, 1))
    user_cart_id = _cart_with(customer_client)
    Cart.objects.filter(pk=guest_id).update(status=Cart.Status.CHECKED_OUT)
    response = _claim(customer_client, guest_id)
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_state"
    assert _quantities(user_cart_id) == {}
    assert Cart.objects.get(pk=guest_id).user_id is None


def test_claiming_your_own_cart_changes_nothing(customer_client: APIClient) -> None:
    variant = _variant()
    cart_id = _cart_with(customer_client, (variant, 2))
    response = _claim(customer_client, cart_id)
    assert response.status_code == 200
    assert response.json()["id"] == cart_id
    assert _quantities(cart_id) == {variant.pk: 2}
    assert Cart.objects.get(pk=cart_id).status == Cart.Status.OPEN


def test_a_claimed_guest_cart_cannot_be_claimed_by_someone_else(
    api_client: APIClient, customer_client: APIClient, other_client: APIClient, customer: User
) -> None:
    guest_id = _cart_with(api_client, (_variant(), 1))
    assert _claim(customer_client, guest_id).status_code == 200
    stolen = _claim(other_client, guest_id)
    assert stolen.status_code == 404
    assert Cart.objects.get(pk=guest_id).user_id == customer.pk


def test_claim_refuses_a_body(api_client: APIClient, customer_client: APIClient) -> None:
    guest_id = _cart_with(api_client)
    response = customer_client.post(f"{CARTS}{guest_id}/claim/", {"merge": False}, format="json")
    assert response.status_code == 400
    assert Cart.objects.get(pk=guest_id).user_id is None
