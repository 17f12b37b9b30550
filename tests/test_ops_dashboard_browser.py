"""The /ops/ dashboard in headless Chromium, against a live server on PostgreSQL and Redis.

Log in through the admin login form, watch a queue's depth rise on the page while
no worker consumes it, then press Retry on a failed task and see the re-sent run
succeed on a real worker, and see the last hour's charts (checkouts, task outcomes,
queue depth) redraw themselves. Debian's ``chromium`` is driven by Playwright (never
``playwright install``); without it the test is skipped, or fails when ``CI`` is set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connections
from django_celery_results.models import TaskResult

from apps.accounts.models import User
from apps.ops import services
from apps.ops.factories import order_make
from apps.ops.models import TaskRetry, WorkerProbe
from apps.ops.tasks import worker_probe_complete_task
from tests.conftest import Worker
from tests.test_ops_queues import no_consumer_on
from workers.enqueue import publish

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path("/tmp/ops-dashboard.png")
PROBE_TASK = "apps.ops.tasks.worker_probe_complete_task"
PASSWORD = "ops-dashboard-pw"
UI_TIMEOUT_MS = 30_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"headless Chromium is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM
    # calls are plain synchronous ones, so Django's async guard does not apply.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
            # Connections opened while Playwright's loop ran live in their own context;
            # close them here, or the test database cannot be dropped at the end.
            connections.close_all()


def _console_problem(message: Any, problems: list[str]) -> None:
    # Failed loads are judged by their response below (the admin has no favicon).
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        problems.append(f"console: {message.text}")


def _response_problem(response: Any, problems: list[str]) -> None:
    if response.status >= 400 and urlsplit(response.url).path != "/favicon.ico":
        problems.append(f"{response.status} {response.url}")


def test_dashboard_shows_a_rising_queue_and_retries_a_failed_task(
    browser: Any,
    live_server: Any,
    worker_factory: Callable[..., Worker],
    settings: Any,
) -> None:
    from playwright.sync_api import expect

    settings.OPS_BROKER_TIMEOUT_SECONDS = 0.5  # the page polls the overview every second
    User.objects.create_user(email="ops@example.com", password=PASSWORD, is_staff=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: _console_problem(message, problems))
    page.on("response", lambda response: _response_problem(response, problems))

    # Log in through the admin's own form, which sends us on to the dashboard.
    page.goto(f"{live_server.url}/admin/login/?next=/ops/%3Frefresh%3D1")
    page.fill("#id_username", "ops@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/ops/?refresh=1")
    expect(page.locator("h1")).to_have_text("Ops dashboard")

    with no_consumer_on("maintenance"):
        depth = page.locator('[data-queue="maintenance"] .depth')
        base = int(depth.inner_text())
        services.queue_sample_record()  # what the minute sweep does

        # No worker consumes "maintenance": the page shows its depth rising by itself.
        probes = [WorkerProbe.objects.create(queue="maintenance") for _ in range(3)]
        for probe in probes:
            assert publish(worker_probe_complete_task, str(probe.pk), queue="maintenance")
        expect(depth).to_have_text(str(base + 3), timeout=UI_TIMEOUT_MS)
        services.queue_sample_record()
        spark = page.locator('[data-queue="maintenance"] svg.spark polyline')
        expect(spark).to_have_attribute("points", re.compile(r"^(\S+ ){2,}\S+$"))

        # A failed run of an idempotent project task appears with a Retry button.
        target = WorkerProbe.objects.create(queue="maintenance")
        failed = TaskResult.objects.create(
            task_id="it-failed-probe-0001",
            task_name=PROBE_TASK,
            task_args=json.dumps(repr((str(target.pk),))),
            task_kwargs=json.dumps(repr({})),
            status="FAILURE",
            traceback="Traceback (most recent call last):\nOperationalError: lost connection",
        )
        row = page.locator(f'tr[data-task-id="{failed.task_id}"]')
        retry = row.locator("button.retry")
        expect(retry).to_be_visible(timeout=UI_TIMEOUT_MS)

        # A real worker on the queue drains it, and runs what the Retry button sends.
        worker = worker_factory(queues="maintenance", concurrency=1)
        expect(depth).to_have_text("0", timeout=UI_TIMEOUT_MS)  # also what earlier tests left
        retry.click()
        expect(row.locator(".retry-state")).to_contain_text("SUCCESS", timeout=UI_TIMEOUT_MS)

    target.refresh_from_db()
    assert target.completed_at is not None
    assert target.worker  # completed by the real worker
    retry_row = TaskRetry.objects.get(original_task_id=failed.task_id)
    assert TaskResult.objects.get(task_id=retry_row.retry_task_id).status == "SUCCESS"
    # The failed row was stored the way the real worker stores its results.
    done = TaskResult.objects.get(task_id=retry_row.retry_task_id)
    assert done.task_args == failed.task_args
    assert all(WorkerProbe.objects.get(pk=p.pk).completed_at for p in probes)
    assert worker.proc is not None
    assert worker.proc.poll() is None  # the worker is still up

    # The last hour's charts redraw themselves from the overview API: orders placed now
    # appear in the checkouts chart, the worker's runs in the task outcomes chart, and
    # the minute samples in the queue depth chart.
    checkouts = page.locator("#chart-checkouts")
    placed = checkouts.locator('li[data-series="checkouts"] .total')
    before = int(placed.inner_text())
    for _ in range(2):
        order_make()
    expect(placed).to_have_text(str(before + 2), timeout=UI_TIMEOUT_MS)
    expect(checkouts.locator('polyline[data-series="checkouts"]')).to_have_count(1)
    tasks = page.locator("#chart-tasks")
    expect(tasks.locator('li[data-series="SUCCESS"] .total')).not_to_have_text("0")
    expect(tasks.locator('polyline[data-series="SUCCESS"]')).to_have_count(1)
    queues = page.locator("#chart-queues")
    expect(queues.locator('polyline[data-series="maintenance"]').first).to_have_attribute(
        "points", re.compile(r"^\S+ \S+")
    )

    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.wait_for_load_state("networkidle")  # no request in flight
    page.goto("about:blank")  # and no more polling
    hosts = {urlsplit(url).netloc for url in requests}
    assert hosts == {urlsplit(live_server.url).netloc}, hosts  # nothing from elsewhere
    assert not problems, problems
