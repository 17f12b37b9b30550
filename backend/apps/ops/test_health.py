"""Health probes: /healthz always answers; /readyz names the dependency that failed."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.ops import health


def test_healthz_is_ok(api_client: APIClient) -> None:
    response = api_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_ok_when_dependencies_answer(api_client: APIClient) -> None:
    response = api_client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_readyz_503_names_the_failed_check(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setitem(health.CHECKS, "broker", down)
    response = api_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "not_ready"
    assert body["details"]["failed"] == ["broker"]
    assert body["details"]["checks"]["broker"]["reason"] == "ConnectionError"
    assert "unreachable" not in response.content.decode()  # no internal detail leaks


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/ops/"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_wrong_method_gets_a_405_in_the_error_shape(
    api_client: APIClient, path: str, method: str
) -> None:
    response = getattr(api_client, method)(path)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    body = response.json()
    assert body["error"] == "method_not_allowed"
    assert method.upper() in body["details"]["message"]
