"""Test data for carts (factory_boy). Imported by tests only; never by application code."""

from __future__ import annotations

from collections.abc import Sequence

import factory
from factory.django import DjangoModelFactory

from apps.accounts.models import User
from apps.cart.models import Cart, CartItem
from apps.catalog.factories import VariantFactory
from apps.catalog.models import Variant


class CartFactory(DjangoModelFactory[Cart]):
    class Meta:
        model = Cart

    user = None  # a guest cart
    currency = "EUR"


class CartItemFactory(DjangoModelFactory[CartItem]):
    class Meta:
        model = CartItem

    cart = factory.SubFactory(CartFactory)
    variant = factory.SubFactory(VariantFactory, stock=10)
    quantity = 1


def cart_create(*, user: User | None = None, lines: Sequence[tuple[Variant, int]] = ()) -> Cart:
    """A cart (a guest's without ``user``) with these (variant, quantity) lines."""
    cart = CartFactory.create(user=user)
    for variant, quantity in lines:
        CartItemFactory.create(cart=cart, variant=variant, quantity=quantity)
    return cart
