"""Every non-2xx body has the shape {"error": code, "details": {...}}."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.test import override_settings
from django.urls import include, path
from rest_framework import permissions, serializers
from rest_framework.decorators import api_view, permission_classes, throttle_classes
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient

from apps.accounts.models import User
from utils.serializers import InputSerializer
from utils.throttling import AnonRateThrottle


class _EchoInput(InputSerializer):
    quantity = serializers.IntegerField(min_value=1, max_value=99)


@api_view(["POST"])
@permission_classes([permissions.AllowAny])
def echo(request: Request) -> Response:
    data = _EchoInput(data=request.data)
    data.is_valid(raise_exception=True)
    return Response(data.validated_data)


@api_view(["POST"])
@permission_classes([permissions.AllowAny])
def boom(request: Request) -> Response:
    with transaction.atomic():
        User.objects.create_user(email="ghost@example.com", password="x")
        raise RuntimeError("secret internal detail /etc/passwd")


class _OnePerMinute(AnonRateThrottle):
    rate = "1/min"


@api_view(["GET"])
@permission_classes([permissions.AllowAny])
@throttle_classes([_OnePerMinute])
def limited(request: Request) -> Response:
    return Response({"ok": True})


@api_view(["GET"])
@permission_classes([permissions.IsAdminUser])
def staff_only(request: Request) -> Response:
    return Response({"ok": True})


urlpatterns = [
    path("t/echo/", echo),
    path("t/boom/", boom),
    path("t/limited/", limited),
    path("t/staff/", staff_only),
    path("", include("config.urls")),
]
handler404 = "utils.errors.handler404"
handler500 = "utils.errors.handler500"

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def _assert_shape(response: object, status: int, code: str) -> dict:
    assert response.status_code == status, response.content  # type: ignore[attr-defined]
    body = json.loads(response.content)  # type: ignore[attr-defined]
    assert set(body) == {"error", "details"}
    assert body["error"] == code
    assert isinstance(body["details"], dict)
    return body


def test_validation_error_lists_field_errors(api_client: APIClient) -> None:
    body = _assert_shape(
        api_client.post("/t/echo/", {"quantity": 0}, format="json"), 400, "validation_error"
    )
    assert "quantity" in body["details"]


def test_unknown_field_is_a_validation_error(api_client: APIClient) -> None:
    body = _assert_shape(
        api_client.post("/t/echo/", {"quantity": 1, "quantiy": 2}, format="json"),
        400,
        "validation_error",
    )
    assert "quantiy" in body["details"]


def test_malformed_and_truncated_json_is_parse_error(api_client: APIClient) -> None:
    for raw in ('{"quantity": ', "{'a': 1}", '{"quantity": NaN}', "\xff"):
        _assert_shape(
            api_client.post("/t/echo/", raw, content_type="application/json"), 400, "parse_error"
        )


def test_missing_token_is_401_and_bad_token_is_authentication_failed(
    api_client: APIClient,
) -> None:
    response = api_client.get("/api/v1/auth/me/")
    _assert_shape(response, 401, "not_authenticated")
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    _assert_shape(api_client.get("/api/v1/auth/me/"), 401, "authentication_failed")


def test_customer_on_staff_route_is_403(customer_client: APIClient) -> None:
    _assert_shape(customer_client.get("/t/staff/"), 403, "permission_denied")


def test_unknown_url_is_404_in_the_error_shape(api_client: APIClient) -> None:
    _assert_shape(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")
    _assert_shape(api_client.get("/nowhere"), 404, "not_found")


def test_wrong_method_is_405(api_client: APIClient) -> None:
    _assert_shape(api_client.get("/t/echo/"), 405, "method_not_allowed")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_body_over_the_limit_is_413_without_reading_it(api_client: APIClient) -> None:
    body = json.dumps({"quantity": 1, "pad": "x" * 5000})
    _assert_shape(
        api_client.post("/t/echo/", body, content_type="application/json"), 413, "payload_too_large"
    )


def test_non_json_content_type_is_415(api_client: APIClient) -> None:
    _assert_shape(
        api_client.post("/t/echo/", "quantity=1", content_type="application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
    )


def test_throttled_is_429_with_retry_after(api_client: APIClient) -> None:
    assert api_client.get("/t/limited/").status_code == 200
    response = api_client.get("/t/limited/")
    body = _assert_shape(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert body["details"]["retry_after"] > 0


def test_unhandled_exception_is_500_without_traceback_and_rolls_back(
    api_client: APIClient,
) -> None:
    client = APIClient(raise_request_exception=False)
    response = client.post("/t/boom/", {}, format="json")
    body = _assert_shape(response, 500, "server_error")
    text = response.content.decode()
    assert "Traceback" not in text
    assert "secret internal detail" not in text
    assert body["details"]["message"] == "An unexpected error occurred."
    assert not User.objects.filter(email="ghost@example.com").exists()


def test_service_validation_error_has_the_shape_of_a_serializers_field_errors() -> None:
    from utils.errors import ValidationError, exception_handler

    one = exception_handler(ValidationError("slug", "Taken."), {})
    many = exception_handler(
        ValidationError("password", ["Too short.", "Too common."], extra={"hint": 8}), {}
    )
    assert one is not None
    assert many is not None
    assert one.status_code == many.status_code == 400
    assert one.data == {
        "error": "validation_error",
        "details": {"message": "Invalid input.", "slug": ["Taken."]},
    }
    assert many.data["details"]["password"] == ["Too short.", "Too common."]
    assert many.data["details"]["hint"] == 8


def test_authentication_error_is_a_401_authentication_failed() -> None:
    from utils.errors import AuthenticationError, exception_handler

    response = exception_handler(AuthenticationError("The refresh token is invalid."), {})
    assert response is not None
    assert response.status_code == 401
    assert response.data == {
        "error": "authentication_failed",
        "details": {"message": "The refresh token is invalid."},
    }
