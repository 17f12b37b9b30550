"""Celery task metrics: started, succeeded, failed and retried by task name, run time, and
the worker's last-seen time, counted through Celery's own signals and exported by /metrics."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from apps.ops import task_metrics
from workers.base import BaseTask, TransientError
from workers.celery import app

pytestmark = pytest.mark.django_db
TOKEN = "scrape-token-0123456789"


@app.task(base=BaseTask, bind=True, name="ops.test.metrics_subject", max_retries=1)
def metrics_subject(self: Any, outcome: str) -> str:
    if outcome == "fail":
        raise ValueError("asked to fail")
    if outcome == "retry-once" and self.request.retries == 0:
        raise TransientError("asked to retry once")
    return outcome


def scrape(api_client: APIClient, settings: Any) -> dict[tuple[str, frozenset[Any]], float]:
    settings.METRICS_TOKEN = TOKEN
    response = api_client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def count(values: dict[tuple[str, frozenset[Any]], float], name: str) -> float:
    return values.get((name, frozenset({("task", metrics_subject.name)})), 0.0)


def test_outcomes_and_run_time_are_counted_by_task_name(
    api_client: APIClient, settings: Any
) -> None:
    before = scrape(api_client, settings)
    metrics_subject.apply(args=("ok",))
    metrics_subject.apply(args=("fail",))
    metrics_subject.apply(args=("retry-once",))
    after = scrape(api_client, settings)

    def delta(name: str) -> float:
        return count(after, name) - count(before, name)

    # "retry-once" runs twice: a retry, then a success.
    assert delta("storefront_celery_tasks_started_total") == 4
    assert delta("storefront_celery_tasks_succeeded_total") == 2
    assert delta("storefront_celery_tasks_failed_total") == 1
    assert delta("storefront_celery_tasks_retried_total") == 1
    assert delta("storefront_celery_task_runtime_seconds_count") == 4
    seen = [
        value
        for (name, _), value in after.items()
        if name == "storefront_celery_worker_last_seen_timestamp_seconds"
    ]
    assert seen
    assert max(seen) > 0


def test_a_metrics_failure_never_fails_the_task(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("metrics backend broken")

    monkeypatch.setattr(task_metrics.TASKS_STARTED, "labels", broken)
    monkeypatch.setattr(task_metrics.TASKS_SUCCEEDED, "labels", broken)
    monkeypatch.setattr(task_metrics.TASK_RUNTIME, "labels", broken)
    result = metrics_subject.apply(args=("ok",))
    assert result.successful()
    assert result.get() == "ok"


def test_the_handlers_are_connected_once() -> None:
    from celery.signals import task_prerun

    task_metrics.connect()
    task_metrics.connect()
    receivers = [r for r in task_prerun.receivers if "ops-metrics-on_prerun" in str(r[0])]
    assert len(receivers) == 1
