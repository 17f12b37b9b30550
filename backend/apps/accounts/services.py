"""Writes for accounts: registration, profile, password, addresses, logout."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.models import Address, User
from utils.errors import AuthenticationError, ValidationError


def user_register(*, email: str, password: str, first_name: str = "", last_name: str = "") -> User:
    email = User.objects.normalize_email(email).lower()
    candidate = User(email=email, first_name=first_name, last_name=last_name)
    try:
        password_validation.validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationError("password", list(exc.messages)) from exc
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError("email", "A user with this email already exists.")
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email=email, password=password, first_name=first_name, last_name=last_name
            )
    except IntegrityError as exc:  # two registrations racing for one email
        raise ValidationError("email", "A user with this email already exists.") from exc


def user_update(*, user: User, data: dict[str, Any]) -> User:
    changed = [field for field in ("first_name", "last_name") if field in data]
    for field in changed:
        setattr(user, field, data[field])
    if changed:
        user.save(update_fields=changed)
    return user


def user_password_change(*, user: User, current_password: str, new_password: str) -> None:
    if not user.check_password(current_password):
        raise ValidationError("current_password", "The current password is wrong.")
    try:
        password_validation.validate_password(new_password, user=user)
    except DjangoValidationError as exc:
        raise ValidationError("new_password", list(exc.messages)) from exc
    user.set_password(new_password)
    user.save(update_fields=["password"])


def user_logout(*, refresh: str) -> None:
    """Blacklist a refresh token so it can no longer mint access tokens."""
    try:
        RefreshToken(refresh).blacklist()  # type: ignore[arg-type]
    except TokenError as exc:
        raise AuthenticationError("The refresh token is invalid or expired.") from exc


@transaction.atomic
def address_create(*, user: User, data: dict[str, Any]) -> Address:
    if data.get("is_default"):
        Address.objects.filter(user=user, is_default=True).update(is_default=False)
    return Address.objects.create(user=user, **data)


@transaction.atomic
def address_update(*, address: Address, data: dict[str, Any]) -> Address:
    if data.get("is_default"):
        Address.objects.filter(user_id=address.user_id, is_default=True).exclude(
            pk=address.pk
        ).update(is_default=False)
    for field, value in data.items():
        setattr(address, field, value)
    address.save()
    return address


def address_delete(*, address: Address) -> None:
    address.delete()
