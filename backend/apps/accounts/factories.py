"""Test data for accounts (factory_boy), the one shared address, and the JWT client.

Imported by tests only; never by application code.
"""

from __future__ import annotations

from typing import Any

import factory
from factory.django import DjangoModelFactory
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.models import Address, User

PASSWORD = "correct-horse-battery-staple"  # every factory user has it

# The one address the tests send and store (checkout bodies, saved addresses, orders).
ADDRESS: dict[str, Any] = {
    "name": "Ada Lovelace",
    "line1": "Hauptstr. 1",
    "line2": "",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
    "phone": "",
}


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    is_staff = False

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        kwargs.setdefault("password", PASSWORD)
        return model_class.objects.create_user(*args, **kwargs)


class AddressFactory(DjangoModelFactory[Address]):
    class Meta:
        model = Address

    user = factory.SubFactory(UserFactory)
    name = ADDRESS["name"]
    line1 = ADDRESS["line1"]
    line2 = ADDRESS["line2"]
    city = ADDRESS["city"]
    postal_code = ADDRESS["postal_code"]
    country = ADDRESS["country"]
    phone = ADDRESS["phone"]


def jwt_token(user: User) -> str:
    """An access token for ``user``. An access token alone: unlike a refresh token, making
    one writes no row."""
    return str(AccessToken.for_user(user))


def jwt_headers(user: User) -> dict[str, str]:
    """The token as a header, for Django's test ``Client`` or ``APIClient.credentials``."""
    return {"HTTP_AUTHORIZATION": f"Bearer {jwt_token(user)}"}


def jwt_client(user: User | None) -> APIClient:
    """A client that sends ``user``'s access token (none for the anonymous caller)."""
    client = APIClient()
    if user is not None:
        client.credentials(**jwt_headers(user))
    return client
