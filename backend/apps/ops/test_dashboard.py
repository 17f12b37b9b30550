"""The /ops/ page: staff session only, everything rendered on the server, nothing external."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from apps.ops import services
from apps.ops.dashboard import chart_segments, sparkline_points
from apps.ops.factories import order_make, payment_make, task_result_make, variant_make
from apps.ops.models import QueueSample
from apps.orders.models import Order
from apps.payments.models import Payment, WebhookEvent

URL = "/ops/"
STATIC = Path(__file__).resolve().parent / "static" / "ops"
pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_the_admin_login() -> None:
    response = Client().get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/ops/"


def test_a_customer_session_is_sent_to_the_admin_login(customer: Any) -> None:
    client = Client()
    client.force_login(customer)
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_see_every_section_rendered_on_the_server(staff_session: Client) -> None:
    failed = task_result_make(status="FAILURE", args=("probe-1",))
    foreign = task_result_make(name="celery.backend_cleanup", status="FAILURE")
    event = WebhookEvent.objects.create(
        provider="sandbox", event_id="evt_9", type="charge.failed", payload={}, status="failed"
    )
    payment = payment_make(status=Payment.Status.PENDING, age=timedelta(hours=1))
    services.stock_drifts_record(
        run_id=uuid.uuid4(),
        drifts=[{"variant_id": variant_make("SKU-DRIFT").pk, "on_hand": 2, "ledger_sum": 3}],
    )
    now = timezone.now()
    for minutes, depth in [(30, 1), (20, 4), (10, 2)]:
        QueueSample.objects.create(
            queue="emails", depth=depth, sampled_at=now - timedelta(minutes=minutes)
        )

    response = staff_session.get(URL, {"refresh": "2"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-refresh-seconds="2"' in html
    for queue in ("default", "payments", "emails", "maintenance", "webhooks"):
        assert f'data-queue="{queue}"' in html
    assert "tasks run eagerly" in html  # the broker part says why it is unavailable
    assert (
        f'<button type="button" class="retry" data-task-id="{failed.task_id}">Retry</button>'
        in html
    )
    assert f'data-task-id="{foreign.task_id}"' in html
    assert "not retryable" in html
    assert (
        f'<button type="button" class="replay" data-event-id="{event.pk}">Replay</button>' in html
    )
    assert payment.order.number in html
    assert "SKU-DRIFT" in html
    emails_row = re.search(r'data-queue="emails".*?<polyline points="([^"]*)"', html, re.S)
    assert emails_row is not None
    assert len(emails_row.group(1).split()) == 3  # one point per sample of the last hour


def test_the_page_loads_nothing_from_elsewhere(staff_session: Client) -> None:
    response = staff_session.get(URL)
    html = response.content.decode()
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert '<script src="/static/ops/dashboard.js" defer></script>' in html
    assert '<link rel="stylesheet" href="/static/ops/dashboard.css">' in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(src.startswith("/") or src == "data:," for src in sources), sources
    assert "<script>" not in html  # no inline script (the CSP would block it)
    for name in ("dashboard.js", "dashboard.css"):
        text = (STATIC / name).read_text()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), name
        assert "@import" not in text
        assert "url(" not in text


def test_the_page_carries_the_csrf_token_for_its_script(staff: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    html = client.get(URL).content.decode()
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match is not None
    assert "csrftoken" in client.cookies


def test_sparkline_points_scale_to_the_box() -> None:
    assert sparkline_points([]) == ""
    assert sparkline_points([0, 5, 10], width=100, height=22) == "0.0,21.0 50.0,11.0 100.0,1.0"
    assert sparkline_points([3], width=10, height=12) == "0.0,1.0 10.0,1.0"


def test_chart_segments_share_a_scale_and_break_at_gaps() -> None:
    assert chart_segments([], top=5) == []
    assert chart_segments([0, 2, 4], top=4, width=100, height=22) == [
        "0.0,21.0 50.0,11.0 100.0,1.0"
    ]
    # None is a minute without a sample: the line breaks there; a lone point is a dash.
    assert chart_segments([1, None, 1, 1], top=2, width=30, height=12) == [
        "0.0,6.0 3.0,6.0",
        "20.0,6.0 30.0,6.0",
    ]
    assert chart_segments([None, 2], top=2, width=30, height=12) == ["27.0,1.0 30.0,1.0"]
    assert chart_segments([None, None], top=0) == []


def test_the_page_charts_the_last_hour_per_minute(staff_session: Client) -> None:
    now = timezone.now()
    for minutes_ago in (0, 0, 5):
        order = order_make()
        Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(minutes=minutes_ago))
    task_result_make(status="SUCCESS")
    task_result_make(status="FAILURE")
    QueueSample.objects.create(queue="payments", depth=7, sampled_at=now - timedelta(minutes=3))
    html = staff_session.get(URL).content.decode()

    def chart(chart_id: str) -> str:
        figure = rf'<figure class="chart" id="{chart_id}" data-top="(\d+)"[^>]*>(.*?)</figure>'
        match = re.search(figure, html, re.S)
        assert match is not None, chart_id
        return match.group(1) + "|" + match.group(2)

    checkouts = chart("chart-checkouts")
    assert checkouts.startswith("2|")  # two orders in the current minute is the top
    assert re.search(r'data-series="checkouts" points="[^"]+"', checkouts)
    assert 'class="total">3<' in checkouts
    tasks = chart("chart-tasks")
    for state in ("SUCCESS", "FAILURE", "RETRY"):
        assert f'<li data-series="{state}">' in tasks
    assert tasks.startswith("1|")
    queues = chart("chart-queues")
    assert queues.startswith("7|")
    payments = re.findall(r'data-series="payments" points="([^"]+)"', queues)
    assert len(payments) == 1  # one sample: one dash
    assert 'latest <span class="total">7<' in queues  # a reading, not a sum
    assert 'data-series="emails"' not in queues.split("<ul")[0]  # no samples: no line


def test_staff_see_failing_webhook_deliveries_and_disabled_endpoints(staff_session: Client) -> None:
    from apps.integrations.factories import WebhookEndpointFactory, delivery_make
    from apps.integrations.models import WebhookDelivery

    down = WebhookEndpointFactory.create(
        url="https://erp.example.com/down",
        is_active=False,
        disabled_reason="deliveries failing since yesterday",
        disabled_at=timezone.now(),
    )
    healthy = WebhookEndpointFactory.create(url="https://wms.example.com/ok")
    failing = delivery_make(
        down,
        status=WebhookDelivery.Status.FAILED,
        attempts=30,
        last_status_code=502,
        last_error="HTTP 502",
    )
    fine = delivery_make(
        healthy, event=failing.event, status=WebhookDelivery.Status.DELIVERED, attempts=1
    )

    html = staff_session.get(URL).content.decode()

    assert f'data-endpoint-id="{down.pk}"' in html
    assert "deliveries failing since yesterday" in html
    assert f'data-endpoint-id="{healthy.pk}"' not in html
    assert f'data-delivery-id="{failing.pk}"' in html
    assert "HTTP 502" in html
    assert f'data-delivery-id="{fine.pk}"' not in html
