"""Cart API: open, read, add/set/remove lines, the refusals, access rules and query budgets."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test.utils import override_settings
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.cart.models import Cart, CartItem
from apps.catalog.factories import make_category, make_product, make_variant
from apps.catalog.models import Product, Stock, Variant

pytestmark = pytest.mark.django_db

CARTS = "/api/v1/carts/"


def _variant(price: str = "10.00", stock: int = 10, **kwargs: object) -> Variant:
    return make_product(prices=(price,), stock=stock, **kwargs).variants.get()  # type: ignore[arg-type]


def _new_cart(client: APIClient) -> str:
    response = client.post(CARTS, {}, format="json")
    assert response.status_code in (200, 201), response.content
    return response.json()["id"]


def _add(client: APIClient, cart_id: str, variant: Variant | int, quantity: object = 1):
    variant_id = variant if isinstance(variant, int) else variant.pk
    return client.post(
        f"{CARTS}{cart_id}/items/", {"variant_id": variant_id, "quantity": quantity}, format="json"
    )


def _quantities(cart_id: str) -> dict[int, int]:
    return dict(CartItem.objects.filter(cart_id=cart_id).values_list("variant_id", "quantity"))


# --- opening carts -------------------------------------------------------------------


def test_guest_gets_a_new_empty_cart_each_time(api_client: APIClient) -> None:
    first = api_client.post(CARTS, {}, format="json")
    second = api_client.post(CARTS)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    body = first.json()
    assert (
        body["status"],
        body["currency"],
        body["items"],
        body["subtotal"],
        body["item_count"],
    ) == (
        "open",
        "EUR",
        [],
        "0.00",
        0,
    )
    assert Cart.objects.filter(user__isnull=True).count() == 2


def test_signed_in_user_gets_their_one_open_cart(
    customer_client: APIClient, customer: User
) -> None:
    created = customer_client.post(CARTS, {}, format="json")
    again = customer_client.post(CARTS, {}, format="json")
    assert created.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == created.json()["id"]
    assert Cart.objects.filter(user=customer).count() == 1
    Cart.objects.filter(user=customer).update(status=Cart.Status.CHECKED_OUT)
    fresh = customer_client.post(CARTS, {}, format="json")
    assert fresh.status_code == 201
    assert fresh.json()["id"] != created.json()["id"]


def test_open_cart_refuses_unknown_fields(api_client: APIClient) -> None:
    response = api_client.post(CARTS, {"currency": "USD"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert not Cart.objects.exists()


# --- reading -------------------------------------------------------------------------


def test_cart_shows_lines_totals_and_current_prices(api_client: APIClient) -> None:
    product = make_product(name="Tee", prices=("19.99", "5.05"), stock=10)
    tee, sticker = product.variants.order_by("position")
    cart_id = _new_cart(api_client)
    _add(api_client, cart_id, tee, 3)
    _add(api_client, cart_id, sticker, 1)
    body = api_client.get(f"{CARTS}{cart_id}/").json()
    line = body["items"][0]
    assert {k: line[k] for k in ("variant_id", "sku", "product_name", "variant_name")} == {
        "variant_id": tee.pk,
        "sku": tee.sku,
        "product_name": "Tee",
        "variant_name": tee.name,
    }
    assert (line["quantity"], line["unit_price"], line["line_total"], line["warnings"]) == (
        3,
        "19.99",
        "59.97",
        [],
    )
    assert (body["subtotal"], body["item_count"], body["currency"]) == ("65.02", 4, "EUR")
    Variant.objects.filter(pk=tee.pk).update(price="20.00")
    repriced = api_client.get(f"{CARTS}{cart_id}/").json()
    assert repriced["items"][0]["line_total"] == "60.00"
    assert repriced["subtotal"] == "65.05"


def test_cart_warns_about_lines_that_cannot_be_bought_as_they_stand(api_client: APIClient) -> None:
    short, gone, retired, hidden_product = (_variant(stock=5) for _ in range(4))
    cart_id = _new_cart(api_client)
    for variant in (short, gone, retired, hidden_product):
        assert _add(api_client, cart_id, variant, 4).status_code == 200
    Stock.objects.filter(variant=short).update(on_hand=2)
    Stock.objects.filter(variant=gone).update(on_hand=0)
    Variant.objects.filter(pk=retired.pk).update(is_active=False)
    Product.objects.filter(pk=hidden_product.product_id).update(is_active=False)
    lines = {
        line["variant_id"]: line for line in api_client.get(f"{CARTS}{cart_id}/").json()["items"]
    }
    assert lines[short.pk]["warnings"] == ["insufficient_stock"]
    assert lines[short.pk]["available"] == 2
    assert lines[gone.pk]["warnings"] == ["out_of_stock"]
    assert lines[retired.pk]["warnings"] == ["unavailable"]
    assert lines[hidden_product.pk]["warnings"] == ["unavailable"]


def test_unknown_or_malformed_cart_id_is_404(api_client: APIClient) -> None:
    for cart_id in ("0b7d4f4e-7a4c-4f43-9f0e-5d7c8d0a6f11", "not-a-uuid", "1"):
        response = api_client.get(f"{CARTS}{cart_id}/")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


# --- adding, setting, removing -------------------------------------------------------


def test_adding_the_same_variant_increases_its_line(api_client: APIClient) -> None:
    variant = _variant(stock=10)
    cart_id = _new_cart(api_client)
    _add(api_client, cart_id, variant, 2)
    body = _add(api_client, cart_id, variant, 3).json()
    assert len(body["items"]) == 1
    assert body["items"][0]["quantity"] == 5
    assert _quantities(cart_id) == {variant.pk: 5}


def test_patch_sets_and_delete_removes_a_line(api_client: APIClient) -> None:
    keep, drop = _variant(), _variant()
    cart_id = _new_cart(api_client)
    _add(api_client, cart_id, keep, 1)
    items = _add(api_client, cart_id, drop, 1).json()["items"]
    keep_id, drop_id = items[0]["id"], items[1]["id"]
    patched = api_client.patch(f"{CARTS}{cart_id}/items/{keep_id}/", {"quantity": 7}, format="json")
    assert patched.status_code == 200
    assert patched.json()["items"][0]["quantity"] == 7
    removed = api_client.delete(f"{CARTS}{cart_id}/items/{drop_id}/")
    assert removed.status_code == 200
    assert [line["variant_id"] for line in removed.json()["items"]] == [keep.pk]
    assert removed.json()["subtotal"] == "70.00"
    assert _quantities(cart_id) == {keep.pk: 7}
    again = api_client.delete(f"{CARTS}{cart_id}/items/{drop_id}/")
    assert again.status_code == 404


BAD_QUANTITIES = [1.5, 2.0, "1e9", "2", 0, -1, 100, 2**63, True, False, None, [1], {"n": 1}]


@pytest.mark.parametrize("quantity", BAD_QUANTITIES)
def test_bad_quantities_are_refused_when_adding(api_client: APIClient, quantity: object) -> None:
    variant = _variant(stock=500)
    cart_id = _new_cart(api_client)
    _add(api_client, cart_id, variant, 1)
    response = _add(api_client, cart_id, variant, quantity)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "validation_error"
    assert "quantity" in response.json()["details"]
    assert _quantities(cart_id) == {variant.pk: 1}


@pytest.mark.parametrize("quantity", BAD_QUANTITIES)
def test_bad_quantities_are_refused_when_setting(api_client: APIClient, quantity: object) -> None:
    variant = _variant(stock=500)
    cart_id = _new_cart(api_client)
    item_id = _add(api_client, cart_id, variant, 1).json()["items"][0]["id"]
    response = api_client.patch(
        f"{CARTS}{cart_id}/items/{item_id}/", {"quantity": quantity}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "validation_error"
    assert _quantities(cart_id) == {variant.pk: 1}


def test_missing_fields_and_unknown_fields_are_refused(api_client: APIClient) -> None:
    variant = _variant()
    cart_id = _new_cart(api_client)
    for body, field in [
        ({"quantity": 1}, "variant_id"),
        ({"variant_id": variant.pk}, "quantity"),
        ({"variant_id": variant.pk, "quantity": 1, "price": "0.01"}, "price"),
        ({"variant_id": variant.pk, "quantity": 1, "quantiy": 1}, "quantiy"),
        ({"variant_id": str(variant.pk), "quantity": 1}, "variant_id"),
        ({"variant_id": 2**63, "quantity": 1}, "variant_id"),
        ({"variant_id": 0, "quantity": 1}, "variant_id"),
    ]:
        response = api_client.post(f"{CARTS}{cart_id}/items/", body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["details"], body
    assert _quantities(cart_id) == {}


def test_unknown_variant_is_a_validation_error(api_client: APIClient) -> None:
    cart_id = _new_cart(api_client)
    response = _add(api_client, cart_id, 987654, 1)
    assert response.status_code == 400
    assert response.json()["details"]["variant_id"] == ["No such variant."]
    assert _quantities(cart_id) == {}


def test_inactive_variant_or_product_is_refused_as_out_of_stock(api_client: APIClient) -> None:
    retired = _variant(stock=10)
    Variant.objects.filter(pk=retired.pk).update(is_active=False)
    hidden = _variant(stock=10, is_active=False)
    cart_id = _new_cart(api_client)
    for variant in (retired, hidden):
        response = _add(api_client, cart_id, variant, 1)
        assert response.status_code == 409
        assert response.json()["error"] == "out_of_stock"
        assert response.json()["details"]["variants"] == [
            {"variant_id": variant.pk, "requested": 1, "available": 0}
        ]
    assert _quantities(cart_id) == {}


def test_quantity_above_stock_is_409_with_what_is_available(api_client: APIClient) -> None:
    variant = _variant(stock=3)
    cart_id = _new_cart(api_client)
    too_many = _add(api_client, cart_id, variant, 4)
    assert too_many.status_code == 409
    assert too_many.json()["error"] == "out_of_stock"
    assert too_many.json()["details"]["variants"] == [
        {"variant_id": variant.pk, "requested": 4, "available": 3}
    ]
    assert _add(api_client, cart_id, variant, 2).status_code == 200
    more = _add(api_client, cart_id, variant, 2)  # 2 + 2 > 3
    assert more.status_code == 409
    assert more.json()["details"]["variants"][0] == {
        "variant_id": variant.pk,
        "requested": 4,
        "available": 3,
    }
    item_id = more_id = CartItem.objects.get(cart_id=cart_id).pk
    patched = api_client.patch(f"{CARTS}{cart_id}/items/{more_id}/", {"quantity": 9}, format="json")
    assert patched.status_code == 409
    assert _quantities(cart_id) == {variant.pk: 2}
    assert (
        api_client.patch(f"{CARTS}{cart_id}/items/{item_id}/", {"quantity": 3}).status_code == 200
    )


def test_line_total_is_capped_at_the_per_line_maximum(api_client: APIClient) -> None:
    variant = _variant(stock=500)
    cart_id = _new_cart(api_client)
    assert _add(api_client, cart_id, variant, 99).status_code == 200
    response = _add(api_client, cart_id, variant, 1)
    assert response.status_code == 400
    assert "quantity" in response.json()["details"]
    assert _quantities(cart_id) == {variant.pk: 99}


@override_settings(CART_MAX_QUANTITY_PER_LINE=5)
def test_per_line_maximum_follows_the_setting(api_client: APIClient) -> None:
    variant = _variant(stock=500)
    cart_id = _new_cart(api_client)
    assert _add(api_client, cart_id, variant, 6).status_code == 400
    assert _add(api_client, cart_id, variant, 5).status_code == 200


@override_settings(CART_MAX_LINES=3)
def test_a_cart_holds_at_most_max_lines(api_client: APIClient) -> None:
    variants = [_variant() for _ in range(4)]
    cart_id = _new_cart(api_client)
    for variant in variants[:3]:
        assert _add(api_client, cart_id, variant, 1).status_code == 200
    refused = _add(api_client, cart_id, variants[3], 1)
    assert refused.status_code == 400
    assert refused.json()["error"] == "validation_error"
    assert "variant_id" in refused.json()["details"]
    assert _add(api_client, cart_id, variants[0], 1).status_code == 200  # existing line still grows
    assert len(_quantities(cart_id)) == 3


def test_fifty_lines_is_the_default_limit(api_client: APIClient) -> None:
    category = make_category()
    product = make_product(category=category, prices=())
    variants = [make_variant(product=product, stock=1) for _ in range(51)]
    cart_id = _new_cart(api_client)
    for variant in variants[:50]:
        assert _add(api_client, cart_id, variant, 1).status_code == 200
    assert _add(api_client, cart_id, variants[50], 1).status_code == 400
    assert len(_quantities(cart_id)) == 50


def test_variant_in_another_currency_is_refused(api_client: APIClient) -> None:
    product = make_product(prices=())
    dollars = make_variant(product=product, currency="USD")
    cart_id = _new_cart(api_client)
    response = _add(api_client, cart_id, dollars, 1)
    assert response.status_code == 400
    assert "variant_id" in response.json()["details"]
    assert _quantities(cart_id) == {}


@pytest.mark.parametrize("status", [Cart.Status.CHECKED_OUT, Cart.Status.ABANDONED])
def test_closed_carts_cannot_change(api_client: APIClient, status: str) -> None:
    variant = _variant()
    cart_id = _new_cart(api_client)
    item_id = _add(api_client, cart_id, variant, 2).json()["items"][0]["id"]
    Cart.objects.filter(pk=cart_id).update(status=status)
    attempts = [
        _add(api_client, cart_id, variant, 1),
        api_client.patch(f"{CARTS}{cart_id}/items/{item_id}/", {"quantity": 1}, format="json"),
        api_client.delete(f"{CARTS}{cart_id}/items/{item_id}/"),
    ]
    for response in attempts:
        assert response.status_code == 409
        assert response.json()["error"] == "invalid_state"
        assert response.json()["details"]["status"] == status
    assert _quantities(cart_id) == {variant.pk: 2}
    assert api_client.get(f"{CARTS}{cart_id}/").json()["status"] == status


def test_item_of_another_cart_is_404(api_client: APIClient) -> None:
    variant = _variant()
    mine, theirs = _new_cart(api_client), _new_cart(api_client)
    their_item = _add(api_client, theirs, variant, 1).json()["items"][0]["id"]
    for item_id in (their_item, 2**70):
        patched = api_client.patch(
            f"{CARTS}{mine}/items/{item_id}/", {"quantity": 3}, format="json"
        )
        assert patched.status_code == 404
        assert patched.json()["error"] == "not_found"
        assert api_client.delete(f"{CARTS}{mine}/items/{item_id}/").status_code == 404
    assert _quantities(theirs) == {variant.pk: 1}


# --- access --------------------------------------------------------------------------


def test_another_users_cart_is_404_on_every_verb(
    customer_client: APIClient, other_client: APIClient, api_client: APIClient
) -> None:
    variant = _variant()
    cart_id = _new_cart(customer_client)
    item_id = _add(customer_client, cart_id, variant, 2).json()["items"][0]["id"]
    for client in (other_client, api_client):
        attempts = [
            client.get(f"{CARTS}{cart_id}/"),
            _add(client, cart_id, variant, 1),
            client.patch(f"{CARTS}{cart_id}/items/{item_id}/", {"quantity": 5}, format="json"),
            client.delete(f"{CARTS}{cart_id}/items/{item_id}/"),
        ]
        if client is other_client:
            attempts.append(client.post(f"{CARTS}{cart_id}/claim/", {}, format="json"))
        for response in attempts:
            assert response.status_code == 404
            assert response.json()["error"] == "not_found"
    assert _quantities(cart_id) == {variant.pk: 2}
    assert Cart.objects.get(pk=cart_id).status == Cart.Status.OPEN


def test_a_guest_cart_is_reachable_by_its_id_alone(
    api_client: APIClient, customer_client: APIClient
) -> None:
    variant = _variant()
    cart_id = _new_cart(api_client)
    assert _add(customer_client, cart_id, variant, 1).status_code == 200
    assert APIClient().get(f"{CARTS}{cart_id}/").json()["item_count"] == 1


# --- query budgets -------------------------------------------------------------------


def _cart_with_lines(client: APIClient, lines: int) -> str:
    product = make_product(prices=())
    cart_id = _new_cart(client)
    for _ in range(lines):
        assert _add(client, cart_id, make_variant(product=product, stock=5), 2).status_code == 200
    return cart_id


@pytest.mark.parametrize("lines", [1, 30])
def test_cart_get_costs_at_most_5_queries_whatever_the_number_of_lines(
    customer_client: APIClient, django_assert_max_num_queries: Callable, lines: int
) -> None:
    # user, cart (+ voucher), lines, running promotions, tax rates of the destination
    cart_id = _cart_with_lines(customer_client, lines)
    with django_assert_max_num_queries(5):
        response = customer_client.get(f"{CARTS}{cart_id}/")
    assert len(response.json()["items"]) == lines
    assert response.json()["item_count"] == 2 * lines


@pytest.mark.parametrize("client_name", ["api_client", "customer_client"])
def test_adding_an_item_costs_at_most_10_queries(
    request: pytest.FixtureRequest, django_assert_max_num_queries: Callable, client_name: str
) -> None:
    client: APIClient = request.getfixturevalue(client_name)
    cart_id = _cart_with_lines(client, 10)
    new_variant, existing = _variant(stock=5), CartItem.objects.filter(cart_id=cart_id).first()
    assert existing is not None
    # 8 before pricing, + running promotions and tax rates to price the answer
    with django_assert_max_num_queries(10):
        added = _add(client, cart_id, new_variant, 1)
    assert added.status_code == 200
    with django_assert_max_num_queries(10):
        grown = _add(client, cart_id, existing.variant_id, 1)
    assert grown.status_code == 200
    assert _quantities(cart_id)[existing.variant_id] == 3
    assert len(_quantities(cart_id)) == 11
