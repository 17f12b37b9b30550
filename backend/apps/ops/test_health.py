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


@pytest.mark.django_db
def test_readyz_answers_within_its_deadline_naming_what_hangs(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch, settings: pytest.FixtureRequest
) -> None:
    import time

    settings.READYZ_DEADLINE_SECONDS = 0.5  # type: ignore[attr-defined]

    def hangs() -> None:
        time.sleep(3)

    monkeypatch.setitem(health.CHECKS, "cache", hangs)
    monkeypatch.setitem(health.CHECKS, "broker", hangs)
    started = time.monotonic()
    response = api_client.get("/readyz")
    assert time.monotonic() - started < 1.5
    assert response.status_code == 503
    details = response.json()["details"]
    assert sorted(details["failed"]) == ["broker", "cache"]
    assert details["checks"]["cache"]["reason"] == "timeout"
    assert details["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_readyz_says_when_no_worker_finished_a_task_for_a_while(
    api_client: APIClient, settings: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from django.utils import timezone
    from django_celery_results.models import TaskResult

    settings.CELERY_TASK_ALWAYS_EAGER = False  # type: ignore[attr-defined]
    monkeypatch.setitem(health.CHECKS, "broker", lambda: None)
    assert api_client.get("/readyz").json()["workers"]["ok"] is False  # none yet
    result = TaskResult.objects.create(task_id="t-1", status="SUCCESS")
    TaskResult.objects.filter(pk=result.pk).update(date_done=timezone.now() - timedelta(minutes=1))
    body = api_client.get("/readyz").json()
    assert body["status"] == "ok"
    assert body["workers"]["ok"] is True
    TaskResult.objects.filter(pk=result.pk).update(date_done=timezone.now() - timedelta(hours=1))
    response = api_client.get("/readyz")
    assert response.status_code == 200  # reported; the web process still takes orders
    assert response.json()["workers"]["ok"] is False
    assert response.json()["workers"]["silent_seconds"] > 3000
