"""Fixtures shared by every unit test: API clients for each kind of caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.models import User

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    counter = {"n": 0}

    def make(email: str | None = None, *, is_staff: bool = False, **extra: object) -> User:
        counter["n"] += 1
        email = email or f"user{counter['n']}@example.com"
        return User.objects.create_user(email=email, password=PASSWORD, is_staff=is_staff, **extra)

    return make


def client_for(user: User) -> APIClient:
    client = APIClient()
    token = RefreshToken.for_user(user).access_token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


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
    return client_for(customer)


@pytest.fixture
def other_client(other_customer: User) -> APIClient:
    return client_for(other_customer)


@pytest.fixture
def staff_client(staff: User) -> APIClient:
    return client_for(staff)
