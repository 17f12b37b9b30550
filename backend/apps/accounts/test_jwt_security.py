"""JWT safety: the algorithm is pinned; forged, expired and orphaned tokens are 401."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from apps.accounts.models import User

pytestmark = pytest.mark.django_db


def _b64(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _me(token: str) -> object:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/api/v1/auth/me/")


def _claims(user: User) -> dict:
    return dict(AccessToken.for_user(user).payload)


def test_algorithm_is_pinned_and_lifetime_is_minutes() -> None:
    assert settings.SIMPLE_JWT["ALGORITHM"] == "HS256"
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]
    assert timedelta(minutes=1) <= lifetime <= timedelta(minutes=60)


def test_valid_token_is_accepted(customer: User) -> None:
    response = _me(str(AccessToken.for_user(customer)))
    assert response.status_code == 200
    assert response.json()["email"] == customer.email


def _refused(response: Any) -> None:
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_alg_none_token_is_401(customer: User) -> None:
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(customer))}."
    response = _me(token)
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_token_signed_with_another_key_is_401(customer: User) -> None:
    forged = jwt.encode(_claims(customer), "not-the-server-key-" * 3, algorithm="HS256")
    _refused(_me(forged))


def test_token_with_another_algorithm_is_401(customer: User) -> None:
    forged = jwt.encode(_claims(customer), settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS512")
    _refused(_me(forged))


def test_expired_token_is_401(customer: User) -> None:
    token = AccessToken.for_user(customer)
    token.set_exp(lifetime=-timedelta(seconds=1))
    response = _me(str(token))
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_token_of_an_inactive_user_is_401(customer: User) -> None:
    token = str(AccessToken.for_user(customer))
    customer.is_active = False
    customer.save(update_fields=["is_active"])
    _refused(_me(token))


def test_token_of_a_deleted_user_is_401(make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user("gone@example.com")
    token = str(AccessToken.for_user(user))
    user.delete()
    _refused(_me(token))


def test_refresh_token_is_not_an_access_token(customer: User) -> None:
    _refused(_me(str(RefreshToken.for_user(customer))))


def test_rotated_refresh_token_used_again_is_401(customer: User) -> None:
    client = APIClient()
    refresh = str(RefreshToken.for_user(customer))
    first = client.post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert first.status_code == 200
    reused = client.post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert reused.status_code == 401
    assert reused.json()["error"] == "authentication_failed"


def test_inactive_user_cannot_get_tokens(customer: User) -> None:
    from conftest import PASSWORD

    customer.is_active = False
    customer.save(update_fields=["is_active"])
    response = APIClient().post(
        "/api/v1/auth/token/", {"email": customer.email, "password": PASSWORD}, format="json"
    )
    _refused(response)
    assert "access" not in response.json()


def test_refresh_of_an_inactive_user_is_401(customer: User) -> None:
    refresh = str(RefreshToken.for_user(customer))
    customer.is_active = False
    customer.save(update_fields=["is_active"])
    response = APIClient().post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")
    _refused(response)
    assert "access" not in response.json()
