"""Reads for accounts: the current user's addresses."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import Address, User


def address_list_for_user(*, user: User) -> QuerySet[Address]:
    return Address.objects.filter(user=user).order_by("-is_default", "id")
