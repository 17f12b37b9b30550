"""Accounts API: register, JWT life cycle, profile, password, own addresses only."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.accounts.models import Address, User
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-long-passphrase-42"


def _register(client: APIClient, email: str = "new@example.com", password: str = PASSWORD):
    return client.post(
        "/api/v1/auth/register/", {"email": email, "password": password}, format="json"
    )


def _tokens(client: APIClient, email: str, password: str = PASSWORD) -> dict:
    response = client.post(
        "/api/v1/auth/token/", {"email": email, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_register_then_sign_in_and_read_me(api_client: APIClient) -> None:
    response = _register(api_client, email="New@Example.com")
    assert response.status_code == 201
    assert response.json()["email"] == "new@example.com"
    assert "password" not in response.json()
    tokens = _tokens(api_client, "NEW@example.com")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    me = api_client.get("/api/v1/auth/me/")
    assert me.status_code == 200
    assert me.json()["email"] == "new@example.com"
    assert me.json()["is_staff"] is False


def test_duplicate_email_is_400_case_insensitive(api_client: APIClient) -> None:
    assert _register(api_client).status_code == 201
    response = _register(api_client, email="NEW@EXAMPLE.COM")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "email" in response.json()["details"]
    assert User.objects.count() == 1


@pytest.mark.parametrize("password", ["short", "12345678901", "password123"])
def test_weak_passwords_are_refused(api_client: APIClient, password: str) -> None:
    response = _register(api_client, password=password)
    assert response.status_code == 400
    assert "password" in response.json()["details"]
    assert not User.objects.exists()


def test_register_refuses_unknown_fields_such_as_is_staff(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/v1/auth/register/",
        {"email": "x@example.com", "password": PASSWORD, "is_staff": True},
        format="json",
    )
    assert response.status_code == 400
    assert "is_staff" in response.json()["details"]
    assert not User.objects.exists()


def test_wrong_password_is_401(api_client: APIClient, customer: User) -> None:
    response = api_client.post(
        "/api/v1/auth/token/", {"email": customer.email, "password": "nope"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_refresh_rotates_and_old_refresh_is_rejected(api_client: APIClient, customer: User) -> None:
    tokens = _tokens(api_client, customer.email)
    first = api_client.post(
        "/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert first.status_code == 200
    assert first.json()["refresh"] != tokens["refresh"]
    again = api_client.post(
        "/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert again.status_code == 401
    assert again.json()["error"] == "authentication_failed"


def test_logout_blacklists_the_refresh_token(api_client: APIClient, customer: User) -> None:
    tokens = _tokens(api_client, customer.email)
    out = api_client.post("/api/v1/auth/logout/", {"refresh": tokens["refresh"]}, format="json")
    assert out.status_code == 204
    refresh = api_client.post(
        "/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refresh.status_code == 401


def test_patch_me_changes_only_names(customer_client: APIClient, customer: User) -> None:
    response = customer_client.patch("/api/v1/auth/me/", {"first_name": "Alice"}, format="json")
    assert response.status_code == 200
    assert response.json()["first_name"] == "Alice"
    refused = customer_client.patch("/api/v1/auth/me/", {"is_staff": True}, format="json")
    assert refused.status_code == 400
    customer.refresh_from_db()
    assert customer.first_name == "Alice"
    assert customer.is_staff is False


def test_password_change_requires_the_current_password(
    customer_client: APIClient, customer: User
) -> None:
    wrong = customer_client.post(
        "/api/v1/auth/password/",
        {"current_password": "wrong", "new_password": NEW_PASSWORD},
        format="json",
    )
    assert wrong.status_code == 400
    assert "current_password" in wrong.json()["details"]
    ok = customer_client.post(
        "/api/v1/auth/password/",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert ok.status_code == 204
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)


ADDRESS = {
    "name": "Alice Example",
    "line1": "Hauptstr. 1",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "de",
}


def test_address_crud_on_own_addresses(customer_client: APIClient, customer: User) -> None:
    created = customer_client.post("/api/v1/addresses/", ADDRESS, format="json")
    assert created.status_code == 201, created.content
    address_id = created.json()["id"]
    assert created.json()["country"] == "DE"
    listed = customer_client.get("/api/v1/addresses/")
    assert [a["id"] for a in listed.json()["results"]] == [address_id]
    patched = customer_client.patch(
        f"/api/v1/addresses/{address_id}/", {"city": "Hamburg"}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["city"] == "Hamburg"
    assert customer_client.delete(f"/api/v1/addresses/{address_id}/").status_code == 204
    assert not Address.objects.filter(user=customer).exists()


def test_new_default_address_unsets_the_previous_default(customer_client: APIClient) -> None:
    first = customer_client.post(
        "/api/v1/addresses/", {**ADDRESS, "is_default": True}, format="json"
    ).json()
    second = customer_client.post(
        "/api/v1/addresses/", {**ADDRESS, "is_default": True}, format="json"
    ).json()
    assert Address.objects.get(pk=first["id"]).is_default is False
    assert Address.objects.get(pk=second["id"]).is_default is True


def test_invalid_country_is_refused(customer_client: APIClient) -> None:
    response = customer_client.post(
        "/api/v1/addresses/", {**ADDRESS, "country": "XX"}, format="json"
    )
    assert response.status_code == 400
    assert "country" in response.json()["details"]
    assert not Address.objects.exists()


def test_another_users_address_is_404_on_every_verb(
    customer_client: APIClient, other_client: APIClient
) -> None:
    address_id = customer_client.post("/api/v1/addresses/", ADDRESS, format="json").json()["id"]
    url = f"/api/v1/addresses/{address_id}/"
    assert other_client.get(url).status_code == 404
    assert other_client.patch(url, {"city": "X"}, format="json").status_code == 404
    assert other_client.put(url, ADDRESS, format="json").status_code == 404
    assert other_client.delete(url).status_code == 404
    assert other_client.get("/api/v1/addresses/").json()["results"] == []
    assert Address.objects.get(pk=address_id).city == "Berlin"


def test_anonymous_cannot_list_addresses(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/addresses/")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_createsuperuser_noinput_uses_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", interactive=False, verbosity=0)
    admin = User.objects.get(email="root@example.com")
    assert admin.is_staff
    assert admin.is_superuser
    assert admin.check_password(PASSWORD)


def test_auth_scope_throttles_register_and_token(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from utils.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    statuses = [
        api_client.post(
            "/api/v1/auth/token/", {"email": "x@example.com", "password": "nope"}, format="json"
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 401]
    response = _register(api_client, email="late@example.com")
    assert response.status_code == 429
    assert response.json()["error"] == "throttled"
    assert int(response["Retry-After"]) >= 1
    assert not User.objects.filter(email="late@example.com").exists()
