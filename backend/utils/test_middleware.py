"""Middleware that refuses a request before anything reads it."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.mark.parametrize("length", ["-1", "abc", "1.5"])
def test_a_content_length_that_is_not_a_whole_number_is_a_400(length: str) -> None:
    response = APIClient().generic(
        "POST", "/api/v1/carts/", data=b"{}", content_type="application/json", CONTENT_LENGTH=length
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/products/a%00b/", 404, "not_found"),
        ("/api/v1/products/?search=%00", 400, "bad_request"),
    ],
)
def test_nul_in_the_path_or_query_string_never_reaches_a_query(
    path: str, status: int, code: str
) -> None:
    """PostgreSQL refuses U+0000 in text: a slug or task id with one was a 500 (issue 8)."""
    response = APIClient().get(path)
    assert response.status_code == status
    assert response.json() == {
        "error": code,
        "details": {"message": response.json()["details"]["message"]},
    }


def test_nul_in_a_header_is_a_400() -> None:
    response = APIClient().post("/api/v1/carts/", {}, format="json", HTTP_IDEMPOTENCY_KEY="key\x00")
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
