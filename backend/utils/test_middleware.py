"""Middleware that refuses a request before anything reads it."""

from __future__ import annotations

import json
from typing import Any

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


# --- The error shape under /api/, DEBUG or not --------------------------------------------


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", ["/api/v1/nothing/", "/api/v2/", "/api/v1/products/a/b/"])
def test_an_unknown_api_url_is_a_json_404(settings: Any, debug: bool, path: str) -> None:
    settings.DEBUG = debug
    response = APIClient().get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"
    assert response.json()["details"]["message"]


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_write_without_the_slash_is_a_404_naming_the_url(
    settings: Any, debug: bool, method: str
) -> None:
    """Under DEBUG, Django's APPEND_SLASH raised (a 500); a redirect would drop the body."""
    settings.DEBUG = debug
    response = getattr(APIClient(), method)("/api/v1/carts", {}, format="json")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "/api/v1/carts/" in response.json()["details"]["message"]


def test_a_read_without_the_slash_is_still_redirected() -> None:
    response = APIClient().get("/api/v1/categories")
    assert response.status_code == 301
    assert response["Location"] == "/api/v1/categories/"


def test_a_debug_500_under_api_is_json_and_keeps_its_headers(settings: Any) -> None:
    """Anything Django itself answers under /api/ is shaped; outside /api/ it is left alone."""
    from django.http import HttpRequest, HttpResponse

    from utils.middleware import ApiErrorShapeMiddleware

    def page(request: HttpRequest) -> HttpResponse:
        response = HttpResponse("<h1>boom</h1>", status=500, content_type="text/html")
        response["X-Content-Type-Options"] = "nosniff"
        return response

    middleware = ApiErrorShapeMiddleware(page)
    request = HttpRequest()
    request.path_info = request.path = "/api/v1/products/"
    shaped = middleware(request)
    assert shaped.status_code == 500
    assert shaped["Content-Type"] == "application/json"
    assert json.loads(shaped.content) == {
        "error": "server_error",
        "details": {"message": "Internal Server Error."},
    }
    assert shaped["X-Content-Type-Options"] == "nosniff"
    request.path_info = request.path = "/admin/"
    assert middleware(request)["Content-Type"] == "text/html"


@pytest.mark.django_db
def test_the_api_root_lists_the_resources_and_links_the_schema_and_docs() -> None:
    response = APIClient().get("/api/v1/")
    assert response.status_code == 200
    index = response.json()
    assert index["version"] == "v1"
    assert index["schema"] == "http://testserver/api/v1/schema/"
    assert index["docs"] == "http://testserver/api/v1/docs/"
    resources = index["resources"]
    assert {"products", "categories", "carts", "orders", "auth/register", "auth/token"} <= set(
        resources
    )
    # Every link answers (a staff route with 401, never a 404).
    client = APIClient()
    for url in resources.values():
        assert client.get(url).status_code != 404, url
