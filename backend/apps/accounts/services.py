"""Writes for accounts: registration, profile, password (change and reset), email
verification and change, addresses, logout, and deleting the account."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.emails import verification_read
from apps.accounts.models import Address, User
from apps.notifications.models import EmailLog
from apps.notifications.services import account_email_enqueue
from utils.errors import AuthenticationError, ValidationError

_BAD_TOKEN = "The link is invalid or has expired: ask for a new one."


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
            user = User.objects.create_user(
                email=email, password=password, first_name=first_name, last_name=last_name
            )
            account_email_enqueue(
                kind=EmailLog.Kind.EMAIL_VERIFICATION, recipient=user.email, user=user
            )
            return user
    except IntegrityError as exc:  # two registrations racing for one email
        raise ValidationError("email", "A user with this email already exists.") from exc


def _password_validate(password: str, *, user: User, field: str) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationError(field, list(exc.messages)) from exc


def user_tokens_revoke(*, user: User) -> int:
    """Blacklist every refresh token issued to ``user``; return how many were still open."""
    outstanding = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    revoked = [BlacklistedToken(token=token) for token in outstanding]
    BlacklistedToken.objects.bulk_create(revoked, ignore_conflicts=True)
    return len(revoked)


def password_reset_request(*, email: str) -> None:
    """Queue a reset email for ``email`` whether or not it has an account.

    The same work either way (one row, one task after commit), so neither the answer
    nor its time tells whether the account exists: the worker looks the account up
    and sends the link, or marks the row ``skipped``.
    """
    with transaction.atomic():
        account_email_enqueue(
            kind=EmailLog.Kind.PASSWORD_RESET,
            recipient=User.objects.normalize_email(email).lower(),
        )


def password_reset_confirm(*, uid: str, token: str, password: str) -> User:
    """Set a new password with a reset link's uid and token (once), and sign out everywhere."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        pk = None
    with transaction.atomic():
        user = (
            User.objects.select_for_update().filter(pk=pk, is_active=True).first()
            if pk is not None
            else None
        )
        if user is None or not default_token_generator.check_token(user, token):
            raise ValidationError("token", _BAD_TOKEN)
        _password_validate(password, user=user, field="password")
        user.set_password(password)
        user.save(update_fields=["password"])  # the token is now spent (it hashes the password)
        user_tokens_revoke(user=user)
    return user


def email_verify(*, token: str) -> User:
    """Mark the address in a verification token verified; a pending new address replaces
    the old one at this moment."""
    claim = verification_read(token)
    with transaction.atomic():
        user = None
        if claim is not None:
            user = User.objects.select_for_update().filter(pk=claim[0], is_active=True).first()
        if user is None or claim is None or claim[1] not in (user.email, user.pending_email):
            raise ValidationError("token", _BAD_TOKEN)
        address = claim[1]
        if address != user.email:
            if User.objects.filter(email__iexact=address).exclude(pk=user.pk).exists():
                raise ValidationError("token", "This address belongs to another account now.")
            user.email = address
        user.pending_email = ""
        user.email_verified_at = timezone.now()
        try:
            with transaction.atomic():
                user.save(update_fields=["email", "pending_email", "email_verified_at"])
        except IntegrityError as exc:
            raise ValidationError("token", "This address belongs to another account now.") from exc
    return user


def email_change_request(*, user: User, password: str, email: str) -> User:
    """Ask to move the account to ``email``: needs the password; takes effect once the new
    address is verified (the old one keeps working until then)."""
    if not user.check_password(password):
        raise ValidationError("password", "The password is wrong.")
    email = User.objects.normalize_email(email).lower()
    if email == user.email:
        raise ValidationError("email", "This is already the account's address.")
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError("email", "A user with this email already exists.")
    with transaction.atomic():
        user.pending_email = email
        user.save(update_fields=["pending_email"])
        account_email_enqueue(kind=EmailLog.Kind.EMAIL_VERIFICATION, recipient=email, user=user)
    return user


def user_delete(*, user: User, password: str) -> None:
    """Delete the account: orders stay (financial records) with their personal data erased,
    addresses and carts go, every refresh token is revoked, and the user row is deleted
    so that its access tokens fail too. The email may sign up, or buy as a guest, again.
    """
    from apps.orders.services import orders_anonymise_for_user

    if not user.check_password(password):
        raise ValidationError("password", "The password is wrong.")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        orders_anonymise_for_user(user=locked)
        EmailLog.objects.filter(recipient__iexact=locked.email).update(
            recipient="deleted@deleted.invalid"
        )
        if locked.pending_email:
            EmailLog.objects.filter(recipient__iexact=locked.pending_email).update(
                recipient="deleted@deleted.invalid"
            )
        user_tokens_revoke(user=locked)
        locked.delete()


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
    _password_validate(new_password, user=user, field="new_password")
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
