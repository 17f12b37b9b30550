"""GET /metrics: Prometheus text format, staff or METRICS_TOKEN only, HTTP metrics by route
pattern, shop gauges computed at scrape time, and sums across processes in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from apps.ops.factories import order_make, payment_make, task_result_make
from apps.ops.metrics import route_label
from apps.ops.tasks import worker_probe_complete_task
from apps.orders.models import Order
from apps.payments.models import Payment
from workers.enqueue import publish

URL = "/metrics"
TOKEN = "scrape-token-0123456789"
BACKEND = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


@pytest.fixture
def with_middleware(settings: Any) -> None:
    """The metrics middleware is installed once, first (as in base settings)."""
    assert django_settings.MIDDLEWARE[0] == "apps.ops.metrics.PrometheusMiddleware"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


def test_anonymous_scrape_is_401_in_the_error_shape(api_client: APIClient) -> None:
    response = api_client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_customer_scrape_is_403(customer_client: APIClient) -> None:
    response = customer_client.get(URL)
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"


def test_token_scrape_gets_the_text_format(api_client: APIClient, settings: Any) -> None:
    settings.METRICS_TOKEN = TOKEN
    response = api_client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE storefront_orders gauge" in response.content.decode()


def test_a_wrong_token_is_401(api_client: APIClient, settings: Any) -> None:
    settings.METRICS_TOKEN = TOKEN
    response = api_client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}x")
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_an_empty_metrics_token_disables_token_auth(api_client: APIClient, settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert api_client.get(URL, HTTP_AUTHORIZATION="Bearer ").status_code == 401
    assert api_client.get(URL, HTTP_AUTHORIZATION="Bearer  ").status_code == 401


def test_staff_scrape_with_jwt_or_session(staff_client: APIClient, staff: Any) -> None:
    assert staff_client.get(URL).status_code == 200
    session = APIClient()
    session.force_login(staff)
    assert session.get(URL).status_code == 200


def test_shop_gauges_are_computed_at_scrape_time(
    staff_client: APIClient, memory_broker: Callable[[str], int]
) -> None:
    order_make(status=Order.Status.PAID)
    order_make(status=Order.Status.PAID)
    order_make(status=Order.Status.CANCELLED)
    payment_make(status=Payment.Status.CAPTURED)
    payment_make(status=Payment.Status.FAILED)
    task_result_make(name="apps.ops.tasks.worker_probe_complete_task", status="FAILURE")
    publish(worker_probe_complete_task, "p", queue="emails")

    text = staff_client.get(URL).content.decode()

    assert value(text, "storefront_orders", status="paid") == 2
    assert value(text, "storefront_orders", status="cancelled") == 1
    # payment_make creates an order per payment, waiting for payment
    assert value(text, "storefront_orders", status="pending_payment") == 2
    assert value(text, "storefront_payments", status="captured") == 1
    assert value(text, "storefront_payments", status="failed") == 1
    task = "apps.ops.tasks.worker_probe_complete_task"
    assert value(text, "storefront_task_results", task=task, state="FAILURE") == 1
    assert value(text, "storefront_queue_depth", queue="emails") == 1
    assert value(text, "storefront_queue_depth", queue="payments") == 0
    assert value(text, "storefront_broker_up") == 1
    assert value(text, "storefront_stock_drifts_unresolved") == 0


def test_broker_down_scrape_still_answers_with_broker_up_0(
    staff_client: APIClient, broker_down: str
) -> None:
    text = staff_client.get(URL).content.decode()
    assert value(text, "storefront_broker_up") == 0
    assert "storefront_queue_depth{" not in text
    assert "storefront_orders" in text


def test_http_requests_are_counted_by_route_pattern_and_status(
    staff_client: APIClient, with_middleware: None
) -> None:
    probe = "/api/v1/ops/probes/00000000-0000-0000-0000-000000000000/"
    before = staff_client.get(URL).content.decode()
    route = "/api/v1/ops/probes/<pk>/"
    start = value(before, "storefront_http_requests_total", method="GET", route=route, status="404")

    staff_client.get(probe)
    staff_client.get(probe)
    text = staff_client.get(URL).content.decode()

    count = value(text, "storefront_http_requests_total", method="GET", route=route, status="404")
    assert count == (start or 0) + 2
    assert probe not in text  # never the raw path
    assert value(
        text, "storefront_http_request_duration_seconds_count", method="GET", route=route
    ) == pytest.approx((start or 0) + 2)
    assert "storefront_http_request_duration_seconds_bucket" in text


def test_route_label_of_unmatched_and_regex_routes(client: Any, with_middleware: None) -> None:
    class Match:
        route = "api/v1/^ops/tasks/(?P<task_id>[^/]+)/retry/$"

    class Request:
        resolver_match = Match()

    assert route_label(Request()) == "/api/v1/ops/tasks/<task_id>/retry/"  # type: ignore[arg-type]
    assert route_label(object()) == "<unmatched>"  # type: ignore[arg-type]


SCRIPT = textwrap.dedent(
    """
    import os, sys, django
    django.setup()
    from django.conf import settings
    from django.test import Client
    from apps.ops import metrics

    for _ in range(2):  # two web processes, one request each
        pid = os.fork()
        if pid == 0:
            assert settings.MIDDLEWARE[0] == "apps.ops.metrics.PrometheusMiddleware"
            status = Client().get("/healthz").status_code
            os._exit(0 if status == 200 else 1)
        assert os.waitpid(pid, 0)[1] == 0
    metrics.ShopCollector.collect = lambda self: iter(())  # no database in this process
    body, _ = metrics.render_latest()
    sys.stdout.write(body.decode())
    """
)


def test_multiprocess_mode_sums_requests_across_processes(tmp_path: Path) -> None:
    """Two forked web processes each answer one request; one scrape sees both."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONPATH": str(BACKEND),
    }
    scrape = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert len(list(tmp_path.glob("counter_*.db"))) == 2  # one file per process
    count = value(
        scrape.stdout,
        "storefront_http_requests_total",
        method="GET",
        route="/healthz",
        status="200",
    )
    assert count == 2


# --- Content negotiation ----------------------------------------------------------------------

# What Prometheus 2.x sends when it scrapes.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.mark.parametrize("accept", ["text/plain", "text/html", PROMETHEUS_ACCEPT])
def test_credentials_are_checked_before_the_accept_header(
    api_client: APIClient, customer_client: APIClient, accept: str
) -> None:
    anonymous = api_client.get(URL, HTTP_ACCEPT=accept)
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/json"
    assert anonymous.json()["error"] == "not_authenticated"
    customer = customer_client.get(URL, HTTP_ACCEPT=accept)
    assert customer.status_code == 403
    assert customer.json()["error"] == "permission_denied"


@pytest.mark.parametrize("accept", [None, "*/*", "text/plain", "text/plain; version=0.0.4"])
def test_curl_and_plain_text_scrapers_get_the_text_format(
    api_client: APIClient, settings: Any, accept: str | None
) -> None:
    settings.METRICS_TOKEN = TOKEN
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = api_client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert value(response.content.decode(), "storefront_broker_up") is not None


@pytest.mark.parametrize("accept", ["application/openmetrics-text", PROMETHEUS_ACCEPT])
def test_openmetrics_when_asked_for(api_client: APIClient, settings: Any, accept: str) -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

    settings.METRICS_TOKEN = TOKEN
    response = api_client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    text = response.content.decode()
    assert text.endswith("# EOF\n")
    names = {family.name for family in parse_om(text)}
    assert {"storefront_orders", "storefront_broker_up"} <= names


def test_a_type_metrics_cannot_be_rendered_in_is_a_json_406(
    api_client: APIClient, settings: Any
) -> None:
    settings.METRICS_TOKEN = TOKEN
    response = api_client.get(
        URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_acceptable"


def test_promtool_accepts_the_scrape(api_client: APIClient, settings: Any, promtool: str) -> None:
    """Prometheus' own linter (Debian's ``prometheus`` package) on a real scrape, with the
    task metrics of a task that ran."""
    settings.METRICS_TOKEN = TOKEN
    order_make()
    api_client.get("/api/v1/products/")
    worker_probe_complete_task.apply(args=(str(uuid.uuid4()),))
    response = api_client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_ACCEPT="text/plain")
    assert b"storefront_celery_tasks_started_total" in response.content
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=response.content, capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
