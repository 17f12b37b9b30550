"""Catalogue inputs that DRF would have read generously."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.catalog.factories import make_category
from apps.catalog.models import Category

pytestmark = pytest.mark.django_db


def test_an_empty_parent_slug_is_an_error_not_no_parent(staff_client: APIClient) -> None:
    """DRF reads "" as null on relations; the document says a slug or null (issue 8)."""
    response = staff_client.post(
        "/api/v1/categories/", {"name": "Tees", "parent": ""}, format="json"
    )
    assert response.status_code == 400
    assert "parent" in response.json()["details"]
    assert not Category.objects.filter(name="Tees").exists()


def test_a_parent_slug_or_null_is_accepted(staff_client: APIClient) -> None:
    parent = make_category("shirts")
    child = staff_client.post(
        "/api/v1/categories/", {"name": "Tees", "parent": parent.slug}, format="json"
    )
    root = staff_client.post("/api/v1/categories/", {"name": "Hats", "parent": None}, format="json")
    assert (child.status_code, child.json()["parent"]) == (201, "shirts")
    assert (root.status_code, root.json()["parent"]) == (201, None)
