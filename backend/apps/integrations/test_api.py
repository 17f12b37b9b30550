"""The staff API of webhook endpoints and the delivery log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from apps.integrations.factories import delivery_make
from apps.integrations.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db
URL = "/api/v1/webhook-endpoints/"


def test_the_secret_is_shown_once_on_create_and_never_listed(staff_client: APIClient) -> None:
    response = staff_client.post(
        URL,
        {"url": "https://erp.example.com/hooks", "events": ["order.paid", "stock.low"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["order.paid", "stock.low"]
    assert body["is_active"] is True
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == body["secret"]

    listed = staff_client.get(URL).json()["results"]
    assert "secret" not in listed[0]
    assert "secret" not in staff_client.get(f"{URL}{endpoint.pk}/").json()

    rotated = staff_client.post(f"{URL}{endpoint.pk}/rotate-secret/").json()
    endpoint.refresh_from_db()
    assert rotated["secret"] == endpoint.secret != body["secret"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://erp.example.com/h", "events": ["order.shipped"]}, "events"),
        ({"url": "https://erp.example.com/h", "events": []}, "events"),
        ({"url": "ftp://erp.example.com/h", "events": ["order.paid"]}, "url"),
        ({"url": "https://u:p@erp.example.com/h", "events": ["order.paid"]}, "url"),
        ({"url": "https://erp.example.com/h", "events": ["order.paid"], "secret": "x"}, "secret"),
        (
            {"url": "https://erp.example.com/h", "events": ["order.paid"], "is_active": 0},
            "is_active",
        ),
    ],
)
def test_a_bad_endpoint_is_a_400_naming_the_field(
    staff_client: APIClient, body: dict[str, Any], field: str
) -> None:
    response = staff_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["details"]
    assert not WebhookEndpoint.objects.exists()


@override_settings(WEBHOOK_ALLOW_HTTP=False)
def test_plain_http_is_refused_unless_allowed(staff_client: APIClient) -> None:
    response = staff_client.post(
        URL, {"url": "http://erp.example.com/h", "events": ["order.paid"]}, format="json"
    )
    assert response.status_code == 400
    assert "https" in response.json()["details"]["url"][0]


def test_enabling_a_disabled_endpoint_clears_why_it_was_disabled(
    staff_client: APIClient, make_endpoint: Callable[..., WebhookEndpoint]
) -> None:
    endpoint = make_endpoint(
        is_active=False, disabled_reason="deliveries failing", consecutive_failures=40
    )
    response = staff_client.patch(f"{URL}{endpoint.pk}/", {"is_active": True}, format="json")
    assert response.status_code == 200
    assert response.json()["disabled_reason"] == ""
    assert response.json()["consecutive_failures"] == 0


def test_delete_hides_the_endpoint_and_keeps_its_log(
    staff_client: APIClient, make_endpoint: Callable[..., WebhookEndpoint]
) -> None:
    endpoint = make_endpoint()
    delivery_make(endpoint)
    assert staff_client.delete(f"{URL}{endpoint.pk}/").status_code == 204
    assert staff_client.get(f"{URL}{endpoint.pk}/").status_code == 404
    assert staff_client.get("/api/v1/webhook-deliveries/").json()["count"] == 1
    endpoint.refresh_from_db()
    assert not endpoint.is_active


def test_the_delivery_log_filters_and_shows_attempts_and_replays(
    staff_client: APIClient,
    make_endpoint: Callable[..., WebhookEndpoint],
    published: list[Any],
) -> None:
    endpoint = make_endpoint()
    failed = delivery_make(
        endpoint,
        payload={"order": {"number": "1"}},
        status=WebhookDelivery.Status.FAILED,
        attempts=3,
        last_status_code=500,
    )
    failed.attempt_log.create(number=1, status_code=500, duration_ms=12, error="HTTP 500")
    delivery_make(endpoint, event_type="stock.low")

    listed = staff_client.get("/api/v1/webhook-deliveries/?status=failed").json()
    assert [d["id"] for d in listed["results"]] == [failed.pk]
    assert listed["results"][0]["event_type"] == "order.paid"
    assert staff_client.get("/api/v1/webhook-deliveries/?event_type=stock.low").json()["count"] == 1
    assert staff_client.get("/api/v1/webhook-deliveries/?status=nope").status_code == 400

    detail = staff_client.get(f"/api/v1/webhook-deliveries/{failed.pk}/").json()
    assert detail["payload"] == {"order": {"number": "1"}}
    assert detail["attempt_log"] == [
        {
            "number": 1,
            "status_code": 500,
            "duration_ms": 12,
            "error": "HTTP 500",
            "succeeded": False,
            "created_at": detail["attempt_log"][0]["created_at"],
        }
    ]

    replayed = staff_client.post(f"/api/v1/webhook-deliveries/{failed.pk}/replay/")
    assert replayed.status_code == 202
    assert replayed.json()["status"] == "pending"
    again = staff_client.post(f"/api/v1/webhook-deliveries/{failed.pk}/replay/")
    assert again.status_code == 409
    assert again.json()["error"] == "invalid_state"


def test_customers_cannot_see_the_delivery_log(customer_client: APIClient) -> None:
    response = customer_client.get("/api/v1/webhook-deliveries/")
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
