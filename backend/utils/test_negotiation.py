"""Content negotiation (DRF's own): JSON for the usual Accept headers, a 406 for the rest."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

API = "/api/v1/categories/"


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", "application/json; q=0.9, */*; q=0.1"]
)
def test_json_is_served_for_the_usual_accept_headers(api_client: APIClient, accept: str) -> None:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = api_client.get(API, **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_an_unacceptable_type_is_still_a_406_in_the_error_shape(api_client: APIClient) -> None:
    response = api_client.get(API, HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response.json()["error"] == "not_acceptable"


def test_a_format_override_is_still_checked(api_client: APIClient) -> None:
    json_ = api_client.get(API, {"format": "json"})
    assert json_.status_code == 200
    assert json_["Content-Type"] == "application/json"
    unknown = api_client.get(API, {"format": "xml"})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "not_found"


@pytest.mark.parametrize("accept", ["text/html", "application/xml"])
def test_an_anonymous_caller_is_told_401_before_406(api_client: APIClient, accept: str) -> None:
    response = api_client.get("/api/v1/orders/", HTTP_ACCEPT=accept)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["Content-Type"] == "application/json"


def test_a_customer_on_a_staff_route_is_told_403_before_406(customer_client: APIClient) -> None:
    response = customer_client.get("/api/v1/ops/tasks/", HTTP_ACCEPT="text/html")
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"


def test_a_bad_token_is_401_before_406(api_client: APIClient) -> None:
    response = api_client.get(
        "/api/v1/orders/", HTTP_ACCEPT="text/html", HTTP_AUTHORIZATION="Bearer not-a-jwt"
    )
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_an_allowed_caller_still_gets_the_406(customer_client: APIClient) -> None:
    response = customer_client.get("/api/v1/orders/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response.json()["error"] == "not_acceptable"
