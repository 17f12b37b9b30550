"""Reads for accounts: the current user's addresses, and everything kept about them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import Address, User


def address_list_for_user(*, user: User) -> QuerySet[Address]:
    return Address.objects.filter(user=user).order_by("-is_default", "id")


def user_export(*, user: User) -> dict[str, Any]:
    """The account, its addresses and its orders (with lines and latest payment)."""
    from apps.orders.models import Order
    from apps.orders.selectors import order_detail_prefetch

    # The user's own orders, staff included (order_list_for_user gives staff every order).
    orders = order_detail_prefetch(Order.objects.filter(user=user))
    return {
        "exported_at": timezone.now(),
        "account": user,
        "addresses": list(address_list_for_user(user=user)),
        "orders": list(orders.order_by("-created_at", "-pk")),
    }
