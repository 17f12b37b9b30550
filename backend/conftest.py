"""Fixtures shared by every unit test: API clients for each kind of caller, and a
superuser's browser session for the admin pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.factories import PASSWORD, UserFactory, jwt_client
from apps.accounts.models import User

__all__ = ["PASSWORD"]


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_shipping(request: pytest.FixtureRequest) -> None:
    """Every test with a database ships anywhere, standard 4.90 or express 12.90 (what the
    old SHIPPING_METHODS setting gave); tests of zones add their own."""
    from apps.pricing.factories import shipping_default_for

    shipping_default_for(request)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    """``UserFactory``: ``make_user("a@example.com", is_staff=True)``; password ``PASSWORD``."""

    def make(email: str | None = None, **fields: object) -> User:
        return UserFactory.create(**({"email": email} if email else {}), **fields)

    return make


@pytest.fixture
def customer(make_user: Callable[..., User]) -> User:
    return make_user("alice@example.com")


@pytest.fixture
def other_customer(make_user: Callable[..., User]) -> User:
    return make_user("bob@example.com")


@pytest.fixture
def staff(make_user: Callable[..., User]) -> User:
    return make_user("staff@example.com", is_staff=True)


@pytest.fixture
def customer_client(customer: User) -> APIClient:
    return jwt_client(customer)


@pytest.fixture
def other_client(other_customer: User) -> APIClient:
    return jwt_client(other_customer)


@pytest.fixture
def staff_client(staff: User) -> APIClient:
    return jwt_client(staff)


@pytest.fixture
def admin_client(make_user: Callable[..., User]) -> Client:
    """A superuser signed in to the admin (pytest-django's own assumes a username field)."""
    client = Client()
    client.force_login(make_user("root@example.com", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def staff_session(staff: User) -> Client:
    """``staff`` signed in with a browser session (the ops page)."""
    client = Client()
    client.force_login(staff)
    return client
