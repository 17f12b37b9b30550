"""GET /api/v1/ops/tasks/ and POST /api/v1/ops/tasks/{task_id}/retry/: only a failed run
of the project's own idempotent task is re-sent, with its original arguments."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django_celery_results.models import TaskResult
from rest_framework.test import APIClient

from apps.ops.factories import memory_messages, task_result_make
from apps.ops.models import TaskRetry, WorkerProbe
from workers.base import BaseTask
from workers.celery import app

URL = "/api/v1/ops/tasks/"
PROBE_TASK = "apps.ops.tasks.worker_probe_complete_task"
pytestmark = pytest.mark.django_db


@app.task(base=BaseTask, name="apps.ops.test_tasks_api.not_idempotent_task", idempotent=False)
def not_idempotent_task(value: str) -> None:
    """A project task that says it must not run twice."""


def retry_url(task_id: str) -> str:
    return f"{URL}{task_id}/retry/"


def test_task_list_needs_staff(api_client: APIClient, customer_client: APIClient) -> None:
    result = task_result_make()
    assert api_client.get(URL).status_code == 401
    assert customer_client.get(URL).status_code == 403
    assert api_client.post(retry_url(result.task_id)).status_code == 401
    denied = customer_client.post(retry_url(result.task_id))
    assert denied.status_code == 403
    assert denied.json()["error"] == "permission_denied"
    assert not TaskRetry.objects.exists()


def test_task_list_is_paginated_and_filtered_by_state_and_name(staff_client: APIClient) -> None:
    failed = task_result_make(name=PROBE_TASK, status="FAILURE", args=("p-1",))
    task_result_make(name=PROBE_TASK, status="SUCCESS")
    task_result_make(name="apps.notifications.tasks.order_email_send_task", status="FAILURE")

    body = staff_client.get(URL, {"state": "FAILURE", "name": "worker_probe"}).json()

    assert body["count"] == 1
    (row,) = body["results"]
    fields = "task_id name state args kwargs worker date_created date_done traceback error"
    assert set(row) == {*fields.split(), "retryable", "last_retry"}
    assert row["task_id"] == failed.task_id
    assert row["name"] == PROBE_TASK
    assert row["state"] == "FAILURE"
    assert row["args"] == "('p-1',)"
    assert row["error"] == "ValueError: boom"
    assert row["retryable"] is True
    assert row["last_retry"] is None
    assert staff_client.get(URL, {"page_size": 2}).json()["count"] == 3
    assert len(staff_client.get(URL, {"page_size": 2}).json()["results"]) == 2


def test_an_unknown_state_filter_is_a_validation_error(staff_client: APIClient) -> None:
    response = staff_client.get(URL, {"state": "EXPLODED"})
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "state" in response.json()["details"]


def test_a_long_traceback_is_cut_to_its_end(staff_client: APIClient) -> None:
    task_result_make(traceback="x" * 5000 + "\nValueError: the real cause")
    row = staff_client.get(URL).json()["results"][0]
    assert len(row["traceback"]) == 2001
    assert row["traceback"].endswith("ValueError: the real cause")


def test_retry_resends_a_failed_task_with_its_original_arguments(
    staff_client: APIClient, staff: Any, memory_broker: Callable[[str], int]
) -> None:
    failed = task_result_make(name=PROBE_TASK, status="FAILURE", args=("probe-42",))

    response = staff_client.post(retry_url(failed.task_id))

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["original_task_id"] == failed.task_id
    assert body["task_name"] == PROBE_TASK
    assert body["args"] == ["probe-42"]
    assert body["requested_by"] == staff.email
    (message,) = memory_messages("maintenance")  # routed like any ops task
    assert message["headers"]["task"] == PROBE_TASK
    assert message["headers"]["id"] == body["retry_task_id"] != failed.task_id
    assert message["headers"]["argsrepr"] == "('probe-42',)"
    row = staff_client.get(URL, {"state": "FAILURE"}).json()["results"][0]
    assert row["last_retry"]["task_id"] == body["retry_task_id"]
    assert row["last_retry"]["state"] is None  # not picked up yet


def test_retry_reports_the_state_of_the_resent_run(
    staff_client: APIClient, memory_broker: Any
) -> None:
    failed = task_result_make(name=PROBE_TASK, status="FAILURE")
    retry_id = staff_client.post(retry_url(failed.task_id)).json()["retry_task_id"]
    TaskResult.objects.create(task_id=retry_id, task_name=PROBE_TASK, status="SUCCESS")

    row = staff_client.get(f"{URL}{failed.task_id}/").json()

    assert row["last_retry"]["state"] == "SUCCESS"


def test_retry_runs_the_task_again_when_tasks_run_eagerly(staff_client: APIClient) -> None:
    probe = WorkerProbe.objects.create(queue="maintenance")
    failed = task_result_make(name=PROBE_TASK, status="FAILURE", args=(str(probe.pk),))

    response = staff_client.post(retry_url(failed.task_id))

    assert response.status_code == 202
    assert response.json()["retry_task_id"] == ""  # nothing went through a broker
    probe.refresh_from_db()
    assert probe.completed_at is not None


@pytest.mark.parametrize("state", ["SUCCESS", "STARTED", "PENDING", "RETRY"])
def test_retry_refuses_a_task_that_did_not_fail(
    staff_client: APIClient, memory_broker: Callable[[str], int], state: str
) -> None:
    result = task_result_make(status=state)
    response = staff_client.post(retry_url(result.task_id))
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_state"
    assert response.json()["details"]["state"] == state
    assert memory_broker("maintenance") == 0
    assert not TaskRetry.objects.exists()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("apps.ops.test_tasks_api.not_idempotent_task", "is not marked idempotent"),
        ("celery.backend_cleanup", "is not one of the project's registered tasks"),
        ("otherlib.tasks.cleanup", "is not one of the project's registered tasks"),
        ("apps.ops.tasks.gone_task", "is not one of the project's registered tasks"),
    ],
)
def test_retry_refuses_tasks_that_are_not_the_projects_idempotent_ones(
    staff_client: APIClient, memory_broker: Callable[[str], int], name: str, reason: str
) -> None:
    result = task_result_make(name=name, status="FAILURE")
    response = staff_client.post(retry_url(result.task_id))
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "invalid_state"
    assert reason in body["details"]["reason"]
    assert sum(memory_broker(q) for q in ("default", "maintenance")) == 0


def test_retry_refuses_arguments_that_were_truncated(
    staff_client: APIClient, memory_broker: Any
) -> None:
    result = task_result_make(status="FAILURE")
    result.task_args = json.dumps("('" + "a" * 1100 + "...',)")
    result.save()
    response = staff_client.post(retry_url(result.task_id))
    assert response.status_code == 409
    assert "truncated" in response.json()["details"]["reason"]


def test_retry_of_an_unknown_task_is_404(staff_client: APIClient) -> None:
    response = staff_client.post(retry_url("no-such-task"))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_retry_when_the_broker_is_down_is_503_and_records_nothing(
    staff_client: APIClient, broker_down: str
) -> None:
    result = task_result_make(status="FAILURE")
    response = staff_client.post(retry_url(result.task_id))
    assert response.status_code == 503
    assert response.json()["error"] == "broker_unavailable"
    assert not TaskRetry.objects.exists()


def test_retry_through_the_session_needs_the_csrf_token(staff: Any, memory_broker: Any) -> None:
    result = task_result_make(status="FAILURE")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff)
    refused = client.post(retry_url(result.task_id))
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["details"]["message"]
    client.get("/ops/")  # the page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post(retry_url(result.task_id), HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 202


def test_retry_refuses_a_body_and_sends_nothing(
    staff_client: APIClient, memory_broker: Callable[[str], int]
) -> None:
    failed = task_result_make(name=PROBE_TASK, status="FAILURE", args=("probe-42",))

    response = staff_client.post(retry_url(failed.task_id), {"queue": "payments"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "queue" in response.json()["details"]
    assert memory_messages("maintenance") == []
    assert memory_messages("payments") == []
