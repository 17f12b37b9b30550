"""apps.cart.services called directly: opening, adding, setting, removing and claiming."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.factories import UserFactory
from apps.cart import services
from apps.cart.factories import cart_create
from apps.cart.models import Cart, CartItem
from apps.catalog.factories import variant_create
from utils.errors import InvalidStateError, NotFoundError, OutOfStockError, ValidationError

pytestmark = pytest.mark.django_db


def test_cart_open_makes_a_guest_cart_each_time_and_one_per_user() -> None:
    first, created = services.cart_open(user=None)
    second, _ = services.cart_open(user=None)
    assert created
    assert first.pk != second.pk
    assert first.user is None
    user = UserFactory.create()
    mine, created = services.cart_open(user=user)
    again, created_again = services.cart_open(user=user)
    assert (created, created_again, again.pk) == (True, False, mine.pk)


def test_adding_twice_sums_the_line_and_totals_come_from_the_price() -> None:
    variant = variant_create(price="2.50", stock=10)
    cart = cart_create()
    services.cart_item_add(cart_id=cart.pk, user=None, variant_id=variant.pk, quantity=2)
    detail = services.cart_item_add(cart_id=cart.pk, user=None, variant_id=variant.pk, quantity=3)
    assert CartItem.objects.get(cart=cart).quantity == 5
    assert (str(detail.subtotal), detail.item_count) == ("12.50", 5)


def test_a_refused_add_changes_nothing() -> None:
    variant = variant_create(stock=2)
    cart = cart_create(lines=[(variant, 1)])
    with pytest.raises(OutOfStockError) as short:
        services.cart_item_add(cart_id=cart.pk, user=None, variant_id=variant.pk, quantity=5)
    assert short.value.details["variants"] == [
        {"variant_id": variant.pk, "requested": 6, "available": 2}
    ]
    with pytest.raises(ValidationError) as unknown:
        services.cart_item_add(cart_id=cart.pk, user=None, variant_id=999_999, quantity=1)
    assert unknown.value.details["variant_id"] == ["No such variant."]
    other = variant_create(currency="USD")
    with pytest.raises(ValidationError) as currency:
        services.cart_item_add(cart_id=cart.pk, user=None, variant_id=other.pk, quantity=1)
    assert "variant_id" in currency.value.details
    assert list(CartItem.objects.filter(cart=cart).values_list("quantity", flat=True)) == [1]


def test_update_and_remove_a_line() -> None:
    variant = variant_create(stock=10)
    cart = cart_create(lines=[(variant, 1)])
    item = CartItem.objects.get(cart=cart)
    detail = services.cart_item_update(cart_id=cart.pk, user=None, item_id=item.pk, quantity=4)
    assert (CartItem.objects.get(pk=item.pk).quantity, detail.item_count) == (4, 4)
    with pytest.raises(ValidationError):
        services.cart_item_update(cart_id=cart.pk, user=None, item_id=item.pk, quantity=0)
    with pytest.raises(NotFoundError):
        services.cart_item_remove(cart_id=cart.pk, user=None, item_id=item.pk + 1000)
    detail = services.cart_item_remove(cart_id=cart.pk, user=None, item_id=item.pk)
    assert detail.item_count == 0
    assert not CartItem.objects.filter(cart=cart).exists()


def test_a_users_cart_is_a_404_for_others_and_a_closed_cart_a_409() -> None:
    variant = variant_create(stock=10)
    owner, stranger = UserFactory.create(), UserFactory.create()
    cart = cart_create(user=owner)
    for user in (None, stranger):
        with pytest.raises(NotFoundError):
            services.cart_item_add(cart_id=cart.pk, user=user, variant_id=variant.pk, quantity=1)
    with pytest.raises(NotFoundError):
        services.cart_item_add(cart_id=uuid.uuid4(), user=owner, variant_id=variant.pk, quantity=1)
    Cart.objects.filter(pk=cart.pk).update(status=Cart.Status.CHECKED_OUT)
    with pytest.raises(InvalidStateError) as closed:
        services.cart_item_add(cart_id=cart.pk, user=owner, variant_id=variant.pk, quantity=1)
    assert closed.value.details["status"] == "checked_out"
    assert not CartItem.objects.filter(cart=cart).exists()


def test_claim_merges_a_guest_cart_into_the_users_open_cart() -> None:
    shared, guest_only = variant_create(stock=10), variant_create(stock=10)
    user = UserFactory.create()
    mine = cart_create(user=user, lines=[(shared, 2)])
    guest = cart_create(lines=[(shared, 3), (guest_only, 1)])
    detail = services.cart_claim(cart_id=guest.pk, user=user)
    lines = dict(CartItem.objects.filter(cart=mine).values_list("variant_id", "quantity"))
    assert lines == {shared.pk: 5, guest_only.pk: 1}
    assert detail.item_count == 6
    assert Cart.objects.get(pk=guest.pk).status == Cart.Status.ABANDONED


def test_claim_without_an_open_cart_hands_the_guest_cart_over() -> None:
    variant = variant_create(stock=10)
    user = UserFactory.create()
    guest = cart_create(lines=[(variant, 1)])
    services.cart_claim(cart_id=guest.pk, user=user)
    guest.refresh_from_db()
    assert (guest.user, guest.status) == (user, Cart.Status.OPEN)


@pytest.mark.parametrize("which", ["a new variant", "a variant already in the cart"])
def test_an_add_is_five_statements_new_line_or_not(which: str) -> None:
    """Lock the cart, write the line (one upsert), read the lines back, running
    promotions, tax rates: the variant is not read on its own (bench/profile.md, row
    "cart line upsert")."""
    known = variant_create(stock=5)
    cart = cart_create(lines=[(known, 1)])
    variant = variant_create(stock=5) if which == "a new variant" else known
    with CaptureQueriesContext(connection) as ctx:
        detail = services.cart_item_add(
            cart_id=cart.pk, user=None, variant_id=variant.pk, quantity=2
        )
    statements = [
        query["sql"]
        for query in ctx.captured_queries
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    assert len(statements) == 5, statements
    assert {line.variant_id: line.quantity for line in detail.lines}[variant.pk] == (
        2 if which == "a new variant" else 3
    )
    assert CartItem.objects.get(cart=cart, variant=variant).quantity == (
        2 if which == "a new variant" else 3
    )
