"""``cart_lock_open``: one UPDATE that locks and stamps the caller's open cart, or a 404/409."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from apps.cart.models import Cart
from apps.cart.services import cart_lock_open
from utils.errors import InvalidStateError, NotFoundError

pytestmark = pytest.mark.django_db


def _old_cart(**fields: Any) -> Cart:
    cart = Cart.objects.create(currency="EUR", **fields)
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now() - timedelta(days=3))
    return Cart.objects.get(pk=cart.pk)


def test_stamps_the_guest_cart_and_returns_it_whole(django_assert_num_queries: Any) -> None:
    cart = _old_cart()
    with transaction.atomic(), django_assert_num_queries(1):
        locked = cart_lock_open(cart_id=str(cart.pk), user=None)
    assert locked.pk == cart.pk
    assert locked.status == Cart.Status.OPEN
    assert locked.currency == "EUR"
    assert locked.created_at == cart.created_at
    assert locked.updated_at > cart.updated_at
    assert Cart.objects.get(pk=cart.pk).updated_at == locked.updated_at


def test_can_set_the_status_in_the_same_statement() -> None:
    cart = _old_cart()
    with transaction.atomic():
        locked = cart_lock_open(cart_id=cart.pk, user=None, status=Cart.Status.CHECKED_OUT)
    assert locked.status == Cart.Status.CHECKED_OUT
    assert Cart.objects.get(pk=cart.pk).status == Cart.Status.CHECKED_OUT


def test_a_rolled_back_write_leaves_the_cart_as_it_was() -> None:
    cart = _old_cart()
    with pytest.raises(RuntimeError), transaction.atomic():
        cart_lock_open(cart_id=cart.pk, user=None, status=Cart.Status.CHECKED_OUT)
        raise RuntimeError("refused further down")
    again = Cart.objects.get(pk=cart.pk)
    assert again.status == Cart.Status.OPEN
    assert again.updated_at == cart.updated_at


def test_a_users_cart_is_theirs_only(customer: Any, other_customer: Any) -> None:
    cart = _old_cart(user=customer)
    with transaction.atomic():
        assert cart_lock_open(cart_id=cart.pk, user=customer).pk == cart.pk
    for stranger in (None, other_customer):
        with pytest.raises(NotFoundError), transaction.atomic():
            cart_lock_open(cart_id=cart.pk, user=stranger)
    assert Cart.objects.get(pk=cart.pk).user_id == customer.pk


@pytest.mark.parametrize("cart_id", ["not-a-uuid", None, "0b6f5a55-4bd5-4d3c-9d4e-8f1e2f3a4b5c"])
def test_an_unknown_or_malformed_id_is_a_404(cart_id: Any) -> None:
    with pytest.raises(NotFoundError), transaction.atomic():
        cart_lock_open(cart_id=cart_id, user=None)


def test_a_closed_cart_is_a_409_naming_its_status() -> None:
    cart = _old_cart(status=Cart.Status.CHECKED_OUT)
    with pytest.raises(InvalidStateError) as refused, transaction.atomic():
        cart_lock_open(cart_id=cart.pk, user=None)
    assert refused.value.details == {"status": "checked_out"}
    assert Cart.objects.get(pk=cart.pk).updated_at == cart.updated_at
