"""Password reset and email verification: no enumeration, single-use links, durable emails."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.factories import PASSWORD, jwt_client
from apps.accounts.models import User
from apps.cart.factories import cart_create
from apps.catalog.factories import variant_create
from apps.notifications.models import EmailLog
from apps.orders.factories import CHECKOUT_BODY, checkout_url

pytestmark = pytest.mark.django_db
RESET = "/api/v1/auth/password-reset/"
CONFIRM = "/api/v1/auth/password-reset/confirm/"
NEW_PASSWORD = "a-brand-new-passphrase-77"


def _link(message: Any) -> dict[str, str]:
    found = re.search(r"uid=([\w-]+)&token=([\w-]+)", message.body)
    assert found, message.body
    return {"uid": found.group(1), "token": found.group(2)}


def _ask_reset(client: APIClient, email: str, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(RESET, {"email": email}, format="json")


def test_reset_answers_the_same_for_known_and_unknown_addresses(
    api_client: APIClient, customer: User, django_capture_on_commit_callbacks: Any
) -> None:
    known = _ask_reset(api_client, customer.email.upper(), django_capture_on_commit_callbacks)
    unknown = _ask_reset(api_client, "nobody@example.com", django_capture_on_commit_callbacks)

    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    (message,) = mail.outbox  # only the account's owner gets an email
    assert message.to == [customer.email]
    assert message.subject == "Reset your password"
    assert message.alternatives[0][1] == "text/html"
    assert "uid=" in message.alternatives[0][0]
    statuses = dict(EmailLog.objects.values_list("recipient", "status"))
    assert statuses == {customer.email: "sent", "nobody@example.com": "skipped"}


def test_reset_does_the_same_database_work_whether_the_account_exists(
    api_client: APIClient, customer: User
) -> None:
    def statements(email: str) -> list[str]:
        with CaptureQueriesContext(connection) as ctx:
            assert api_client.post(RESET, {"email": email}, format="json").status_code == 202
        # Same statements, values aside: no lookup of the account in the request.
        return [re.sub(r"'[^']*'|\d+", "?", q["sql"]) for q in ctx.captured_queries]

    assert statements(customer.email) == statements("nobody@example.com")
    assert not any("accounts_user" in sql for sql in statements(customer.email))


def test_confirm_sets_the_password_once_and_signs_out_everywhere(
    api_client: APIClient, customer: User, django_capture_on_commit_callbacks: Any
) -> None:
    refresh = str(RefreshToken.for_user(customer))
    _ask_reset(api_client, customer.email, django_capture_on_commit_callbacks)
    link = _link(mail.outbox[0])

    response = api_client.post(CONFIRM, {**link, "password": NEW_PASSWORD}, format="json")

    assert response.status_code == 204, response.content
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)
    refreshed = api_client.post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert refreshed.status_code == 401
    again = api_client.post(
        CONFIRM, {**link, "password": "yet-another-passphrase-9"}, format="json"
    )
    assert again.status_code == 400
    assert again.json()["details"]["token"]
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "12345678"}, "password"),  # the project's validators refuse it
        ({"token": "not-a-token"}, "token"),
        ({"uid": "Zm9v"}, "token"),
        ({"uid": "!!!"}, "token"),
    ],
)
def test_a_bad_confirm_is_a_400_and_keeps_the_password(
    api_client: APIClient,
    customer: User,
    django_capture_on_commit_callbacks: Any,
    change: dict[str, str],
    field: str,
) -> None:
    _ask_reset(api_client, customer.email, django_capture_on_commit_callbacks)
    body = {**_link(mail.outbox[0]), "password": NEW_PASSWORD, **change}
    response = api_client.post(CONFIRM, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["details"]
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)


@override_settings(PASSWORD_RESET_TIMEOUT=-1)
def test_an_expired_reset_link_is_refused(
    api_client: APIClient, customer: User, django_capture_on_commit_callbacks: Any
) -> None:
    _ask_reset(api_client, customer.email, django_capture_on_commit_callbacks)
    body = {**_link(mail.outbox[0]), "password": NEW_PASSWORD}
    assert api_client.post(CONFIRM, body, format="json").status_code == 400


def test_reset_is_throttled_in_the_auth_scope(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from utils.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "2/min"})
    codes = [
        api_client.post(RESET, {"email": "a@example.com"}, format="json").status_code
        for _ in range(3)
    ]
    assert codes == [202, 202, 429]
    assert EmailLog.objects.count() == 2


def _verification_token(message: Any) -> str:
    found = re.search(r"token=(\S+)", message.body)
    assert found, message.body
    return found.group(1)


def test_registration_sends_a_verification_link_that_verifies_the_address(
    api_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        created = api_client.post(
            "/api/v1/auth/register/",
            {"email": "new@example.com", "password": "a-long-new-passphrase-1"},
            format="json",
        )
    assert created.status_code == 201
    assert created.json()["email_verified"] is False
    (message,) = mail.outbox
    assert message.to == ["new@example.com"]
    assert message.subject == "Confirm your email address"

    response = api_client.post(
        "/api/v1/auth/verify-email/", {"token": _verification_token(message)}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["email_verified"] is True
    bad = api_client.post("/api/v1/auth/verify-email/", {"token": "forged:token"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"] == "validation_error"


def test_changing_the_email_needs_the_password_and_the_new_address_verified(
    customer: User, other_customer: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = jwt_client(customer)
    url = "/api/v1/auth/me/email/"
    wrong = client.post(url, {"email": "alice2@example.com", "password": "nope"}, format="json")
    assert wrong.status_code == 400
    assert "password" in wrong.json()["details"]
    taken = client.post(url, {"email": other_customer.email, "password": PASSWORD}, format="json")
    assert taken.status_code == 400
    assert "email" in taken.json()["details"]

    with django_capture_on_commit_callbacks(execute=True):
        asked = client.post(
            url, {"email": "Alice2@Example.com", "password": PASSWORD}, format="json"
        )
    assert asked.status_code == 202
    assert asked.json()["email"] == "alice@example.com"  # unchanged until verified
    assert asked.json()["pending_email"] == "alice2@example.com"
    (message,) = mail.outbox
    assert message.to == ["alice2@example.com"]

    verified = APIClient().post(
        "/api/v1/auth/verify-email/", {"token": _verification_token(message)}, format="json"
    )
    assert verified.status_code == 200
    customer.refresh_from_db()
    assert customer.email == "alice2@example.com"
    assert customer.pending_email == ""
    assert customer.email_verified_at is not None


def test_a_setting_keeps_unverified_accounts_from_checking_out(
    customer: User, api_client: APIClient
) -> None:
    customer.email_verified_at = None
    customer.save(update_fields=["email_verified_at"])
    cart = cart_create(user=customer, lines=[(variant_create(), 1)])
    with override_settings(CHECKOUT_REQUIRES_VERIFIED_EMAIL=True):
        refused = jwt_client(customer).post(checkout_url(cart), CHECKOUT_BODY, format="json")
        guest_cart = cart_create(lines=[(variant_create(), 1)])
        guest = api_client.post(checkout_url(guest_cart), CHECKOUT_BODY, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"] == "email_not_verified"
    assert guest.status_code == 201
    allowed = jwt_client(customer).post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert allowed.status_code == 201  # the default lets unverified accounts buy
