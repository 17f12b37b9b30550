"""A real worker's task metrics reach the web's /metrics through the shared
multiprocess directory, as the Procfile runs them (one PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.ops import metrics
from apps.ops.models import WorkerProbe
from apps.ops.tasks import worker_probe_complete_task
from tests.conftest import Worker, wait_for
from workers.enqueue import publish

pytestmark = pytest.mark.django_db(transaction=True)
TASK = "apps.ops.tasks.worker_probe_complete_task"


def _scrape(monkeypatch: pytest.MonkeyPatch, directory: Path) -> dict[str, dict[str, float]]:
    """What a web process started with the same directory answers (its text format)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    body, _ = metrics.render_latest()
    values: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            key = sample.labels.get("task") or sample.labels.get("worker") or ""
            values.setdefault(sample.name, {})[key] = sample.value
    return values


def test_the_web_scrape_counts_what_a_real_worker_ran(
    worker_factory: Callable[..., Worker], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = worker_factory(
        queues="maintenance", concurrency=2, env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    )
    probes = [WorkerProbe.objects.create(queue="maintenance") for _ in range(3)]
    for probe in probes:
        assert publish(worker_probe_complete_task, str(probe.pk), queue="maintenance")
    wait_for(lambda: all(WorkerProbe.objects.get(pk=p.pk).completed_at for p in probes))

    def counted() -> dict[str, dict[str, float]] | None:
        values = _scrape(monkeypatch, tmp_path)
        done = values.get("storefront_celery_tasks_succeeded_total", {}).get(TASK, 0)
        return values if done >= 3 else None

    values = wait_for(counted)
    assert values["storefront_celery_tasks_started_total"][TASK] == 3
    assert values["storefront_celery_task_runtime_seconds_count"][TASK] == 3
    assert TASK not in values.get("storefront_celery_tasks_failed_total", {})
    seen = values["storefront_celery_worker_last_seen_timestamp_seconds"]
    assert any(name.startswith("it-") for name in seen), seen  # the worker's node name
    assert worker.proc is not None
    assert worker.proc.poll() is None
