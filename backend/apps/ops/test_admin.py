"""Admin pages for ops records and the email log: listed, filtered, searched, read-only."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from apps.notifications.models import EmailLog
from apps.ops import services
from apps.ops.factories import order_make, variant_make
from apps.ops.models import QueueSample, StockDrift, TaskRetry, WorkerProbe

pytestmark = pytest.mark.django_db


def test_ops_changelists_render_with_their_filters_and_search(admin_client: Client) -> None:
    WorkerProbe.objects.create(queue="emails")
    QueueSample.objects.create(queue="emails", depth=3, sampled_at=timezone.now())
    TaskRetry.objects.create(original_task_id="a", retry_task_id="b", task_name="apps.x")
    services.stock_drifts_record(
        run_id=uuid.uuid4(),
        drifts=[{"variant_id": variant_make("ADM-1").pk, "on_hand": 1, "ledger_sum": 2}],
    )
    pages = [
        ("/admin/ops/workerprobe/", {"queue__exact": "emails"}, "emails"),
        ("/admin/ops/queuesample/", {"queue": "emails"}, "emails"),
        ("/admin/ops/taskretry/", {"q": "apps.x"}, "apps.x"),
        ("/admin/ops/stockdrift/", {"q": "ADM-1", "resolved__exact": "0"}, "ADM-1"),
    ]
    for url, params, expected in pages:
        response = admin_client.get(url, params)
        assert response.status_code == 200, url
        assert expected in response.content.decode(), url


def test_ops_records_cannot_be_added_or_edited(admin_client: Client) -> None:
    probe = WorkerProbe.objects.create(queue="emails")
    assert admin_client.get("/admin/ops/workerprobe/add/").status_code == 403
    assert admin_client.get("/admin/ops/queuesample/add/").status_code == 403
    assert admin_client.get("/admin/ops/stockdrift/add/").status_code == 403
    page = admin_client.get(f"/admin/ops/workerprobe/{probe.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()  # view only


def test_staff_mark_drifts_resolved_with_the_admin_action(admin_client: Client) -> None:
    (drift,) = services.stock_drifts_record(
        run_id=uuid.uuid4(),
        drifts=[{"variant_id": variant_make("ADM-2").pk, "on_hand": 4, "ledger_sum": 2}],
    )
    response = admin_client.post(
        "/admin/ops/stockdrift/",
        {"action": "mark_resolved", "_selected_action": [drift.pk]},
    )
    assert response.status_code == 302
    drift.refresh_from_db()
    assert drift.resolved is True
    assert StockDrift.objects.get(pk=drift.pk).on_hand == 4  # nothing else changed


def test_email_log_is_listed_by_status_and_kind_and_searched_by_order_number(
    admin_client: Client,
) -> None:
    order = order_make()
    EmailLog.objects.create(
        order=order, kind="order_confirmation", recipient="ann@example.com", status="failed"
    )
    other = order_make()
    EmailLog.objects.create(order=other, kind="payment_failed", recipient="bob@example.com")

    by_number = admin_client.get("/admin/notifications/emaillog/", {"q": order.number})
    by_status = admin_client.get(
        "/admin/notifications/emaillog/",
        {"status__exact": "queued", "kind__exact": "payment_failed"},
    )
    by_recipient = admin_client.get("/admin/notifications/emaillog/", {"q": "bob@"})

    assert "ann@example.com" in by_number.content.decode()
    assert "bob@example.com" not in by_number.content.decode()
    assert "bob@example.com" in by_status.content.decode()
    assert "ann@example.com" not in by_status.content.decode()
    assert "bob@example.com" in by_recipient.content.decode()


def test_email_log_is_read_only(admin_client: Client) -> None:
    log = EmailLog.objects.create(order=order_make(), kind="order_confirmation", recipient="a@b.c")
    assert admin_client.get("/admin/notifications/emaillog/add/").status_code == 403
    page = admin_client.get(f"/admin/notifications/emaillog/{log.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    deleted: Any = admin_client.post(
        f"/admin/notifications/emaillog/{log.pk}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 403
    assert EmailLog.objects.filter(pk=log.pk).exists()
