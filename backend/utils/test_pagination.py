"""Pagination: page and page_size are whole numbers in range; anything else is a 400."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.catalog.factories import make_product

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("page", "abc"),
        ("page", "0"),
        ("page", "-1"),
        ("page", "1.0"),
        ("page", " 1"),
        ("page", "1_0"),
        ("page", "\uff11"),
        ("page", "1" * 5000),
        ("page_size", "101"),
        ("page_size", "0"),
        ("page_size", "\uff15"),
    ],
)
def test_a_malformed_page_or_size_is_a_400_naming_it(name: str, value: str) -> None:
    """A malformed page was a 404 "Invalid page." (issue 8): a 400 says what is wrong."""
    response = APIClient().get("/api/v1/products/", {name: value})
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert name in response.json()["details"]


def test_a_page_past_the_last_is_a_404_and_last_is_the_last() -> None:
    make_product()
    client = APIClient()
    assert client.get("/api/v1/products/", {"page": "2"}).status_code == 404
    last = client.get("/api/v1/products/", {"page": "last"})
    assert last.status_code == 200
    assert last.json()["count"] == 1


def test_empty_values_mean_the_defaults() -> None:
    response = APIClient().get("/api/v1/products/", {"page": "", "page_size": ""})
    assert response.status_code == 200
