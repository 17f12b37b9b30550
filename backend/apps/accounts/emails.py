"""Account emails' content: single-use password reset tokens and email verification tokens.

The tokens are made when the email is sent (never stored): a reset token is Django's
``PasswordResetTokenGenerator`` (bound to the password hash and last login, so it
works once, and expires after ``PASSWORD_RESET_TIMEOUT``); a verification token is a
signed, timestamped (user id, address) pair. What does not belong here: sending
(``apps.notifications``) and the account changes (``services``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apps.accounts.models import User

VERIFY_SALT = "apps.accounts.email-verification"


def uid_encode(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def verification_token(*, user: User, email: str) -> str:
    return signing.dumps({"u": user.pk, "e": email}, salt=VERIFY_SALT, compress=True)


def verification_read(token: str) -> tuple[int, str] | None:
    """(user id, address) of a genuine, unexpired token; None otherwise."""
    try:
        value = signing.loads(
            token, salt=VERIFY_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE_SECONDS
        )
    except signing.BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(value, dict) or not isinstance(value.get("u"), int):
        return None
    return value["u"], str(value.get("e", ""))


def _password_reset(log: Any) -> dict[str, Any] | None:
    # Looked up here, in the worker, not in the request: the request's answer and its
    # time are the same whether or not the account exists.
    user = User.objects.filter(email__iexact=log.recipient, is_active=True).first()
    if user is None:
        return None
    log.user = user
    link = settings.PASSWORD_RESET_URL.format(
        uid=uid_encode(user), token=default_token_generator.make_token(user)
    )
    return {
        "recipient": user.email,
        "link": link,
        "valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }


def _email_verification(log: Any) -> dict[str, Any] | None:
    user = User.objects.filter(pk=log.user_id, is_active=True).first()
    if user is None or log.recipient not in (user.email, user.pending_email):
        return None  # the account is gone, or the address was changed again since
    token = verification_token(user=user, email=log.recipient)
    return {
        "recipient": log.recipient,
        "link": settings.EMAIL_VERIFICATION_URL.format(token=token),
        "valid_hours": settings.EMAIL_VERIFICATION_MAX_AGE_SECONDS // 3600,
    }


CONTEXTS = {"password_reset": _password_reset, "email_verification": _email_verification}


def account_email_context(log: Any) -> dict[str, Any] | None:
    """The template context of an account email, or None when there is nothing to send."""
    return CONTEXTS[log.kind](log)
