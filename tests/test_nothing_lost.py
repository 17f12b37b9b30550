"""Nothing is lost: broker outages, killed workers, duplicate deliveries, a failing
provider and a dropped database connection, on real Redis + PostgreSQL + workers.

Each test ends by checking the shop's invariants (``tests.invariants``).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.catalog.models import Stock
from apps.notifications.models import EmailLog
from apps.orders.models import Order
from apps.payments.models import Payment, SandboxCharge
from config.testing import api_cart_with, checkout_body
from tests.conftest import Worker, wait_for
from tests.invariants import assert_shop_invariants
from tests.processes import Beat, RedisServer

pytestmark = pytest.mark.django_db(transaction=True)


def _variant(on_hand: int = 10) -> int:
    from apps.catalog.factories import make_product, make_variant

    variant = make_variant(product=make_product(prices=()), stock=on_hand)
    return int(variant.pk)


def _post_checkout(client: APIClient, cart_id: str, token: str = "tok_visa", **headers: str) -> Any:
    body = checkout_body(email="buyer@example.com", token=token)
    return client.post(f"/api/v1/carts/{cart_id}/checkout/", body, format="json", **headers)


def _checkout(client: APIClient, variant_id: int, token: str = "tok_visa", qty: int = 1) -> Any:
    cart_id = api_cart_with(client, variant_id, qty)
    address = f"10.9.{os.getpid() % 250}.{int(time.time() * 1000) % 250}"
    return _post_checkout(client, cart_id, token, REMOTE_ADDR=address)


def _order_status(order_id: str) -> str:
    return str(Order.objects.get(pk=order_id).status)


def _successful_charges(order_id: str) -> int:
    keys = [p.idempotency_key for p in Payment.objects.filter(order_id=order_id)]
    return SandboxCharge.objects.filter(idempotency_key__in=keys, status="succeeded").count()


# --- A broker that goes away and comes back ------------------------------------------


def _point_celery_at(url: str) -> None:
    """Make this (web) process publish to ``url`` from now on."""
    from kombu import pools

    from workers.celery import app

    app.conf.broker_url = url
    # Drop every cached connection and producer pool (kombu keeps global ones keyed
    # by connection); new ones are made on demand for the new URL.
    pools.reset()
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


@pytest.fixture
def private_broker(worker_factory: Callable[..., Worker]) -> Iterator[tuple[RedisServer, Worker]]:
    from workers.celery import app

    original = app.conf.broker_url
    server = RedisServer()
    server.start()
    fast = {
        "REDIS_URL": server.url,
        "CELERY_BROKER_URL": server.url,
        "SWEEP_INTERVAL_SECONDS": "2",
        "REDISPATCH_AFTER_SECONDS": "1",
    }
    worker = worker_factory(env=fast)
    beat = Beat(worker.env | fast, tag=str(server.port))
    _point_celery_at(server.url)
    try:
        yield server, worker
    finally:
        beat.stop()
        worker.stop()
        server.stop()
        _point_celery_at(original)


def test_checkout_during_a_broker_outage_is_paid_when_the_broker_returns(
    private_broker: tuple[RedisServer, Worker],
) -> None:
    server, _ = private_broker
    variant_id = _variant(on_hand=5)
    client = APIClient()
    server.stop()  # the broker is down

    started = time.monotonic()
    response = _checkout(client, variant_id)
    elapsed = time.monotonic() - started
    assert response.status_code == 201, response.content
    assert elapsed < 2.0 + 1.5, f"checkout took {elapsed:.2f}s with the broker down"
    order_id = response.json()["id"]
    assert _order_status(order_id) == Order.Status.PENDING_PAYMENT
    assert Stock.objects.get(variant_id=variant_id).on_hand == 4

    server.start()  # the broker is back, empty: the capture message was never sent
    wait_for(lambda: _order_status(order_id) == Order.Status.PAID, timeout=60)
    assert _successful_charges(order_id) == 1
    wait_for(
        lambda: EmailLog.objects.filter(
            order_id=order_id, kind=EmailLog.Kind.ORDER_CONFIRMATION, status="sent"
        ).exists(),
        timeout=30,
    )
    assert_shop_invariants()


# --- Workers that die, and duplicate deliveries ----------------------------------------


def test_worker_killed_mid_capture_redelivers_and_charges_once(
    worker_factory: Callable[..., Worker],
) -> None:
    worker = worker_factory(
        queues="payments,emails", concurrency=2, env={"SANDBOX_LATENCY_SECONDS": "3"}
    )
    variant_id = _variant()
    response = _checkout(APIClient(), variant_id)
    assert response.status_code == 201, response.content
    order_id = response.json()["id"]
    payment_id = response.json()["payment"]["id"]

    # Wait until a worker child is inside the provider call, then SIGKILL it.
    # The sandbox has recorded the charge and is now in its 3 s of latency: mid-call.
    wait_for(lambda: Payment.objects.get(pk=payment_id).attempts >= 1, timeout=30)
    wait_for(lambda: _successful_charges(order_id) == 1, timeout=30)
    killed = 0
    for pid in worker.children():
        os.kill(pid, signal.SIGKILL)
        killed += 1
    assert killed >= 1

    wait_for(lambda: _order_status(order_id) == Order.Status.PAID, timeout=90)
    assert _successful_charges(order_id) == 1
    assert "WorkerLostError" in worker.log.read_text() or "lost" in worker.log.read_text()
    wait_for(
        lambda: EmailLog.objects.filter(order_id=order_id, status="sent").count() == 1,
        timeout=30,
    )
    assert_shop_invariants()


def test_the_same_capture_delivered_twice_at_once_charges_and_emails_once(
    celery_worker: Worker,
) -> None:
    from django.core import mail

    from apps.payments.tasks import payment_capture_task

    variant_id = _variant()
    response = _checkout(APIClient(), variant_id)
    order_id = response.json()["id"]
    payment_id = response.json()["payment"]["id"]
    for _ in range(3):
        payment_capture_task.apply_async(args=(payment_id,))
    wait_for(lambda: _order_status(order_id) == Order.Status.PAID, timeout=30)
    time.sleep(2)  # let every duplicate finish
    assert _successful_charges(order_id) == 1
    assert Payment.objects.filter(order_id=order_id, status="captured").count() == 1
    confirmation = EmailLog.objects.get(order_id=order_id, kind="order_confirmation")
    wait_for(lambda: EmailLog.objects.get(pk=confirmation.pk).status == "sent", timeout=30)
    assert EmailLog.objects.get(pk=confirmation.pk).attempts == 1
    assert mail.outbox == []  # the worker sent it, in its own process, once
    assert_shop_invariants()


# --- A provider that keeps failing ----------------------------------------------------------


def test_a_provider_that_keeps_failing_ends_failed_and_the_order_is_cancelled_at_its_deadline(
    worker_factory: Callable[..., Worker],
) -> None:
    from apps.orders.services import order_expire_overdue as deadline_sweep

    worker_factory(
        queues="payments,emails",
        env={
            "TASK_RETRY_BACKOFF_SECONDS": "1",
            "TASK_RETRY_BACKOFF_MAX_SECONDS": "2",
            "TASK_MAX_RETRIES": "3",
        },
    )
    variant_id = _variant(on_hand=3)
    response = _checkout(APIClient(), variant_id, token="tok_providerDown", qty=2)
    assert response.status_code == 201, response.content
    order_id = response.json()["id"]
    payment_id = response.json()["payment"]["id"]
    assert Stock.objects.get(variant_id=variant_id).on_hand == 1

    def failed() -> bool:
        payment = Payment.objects.get(pk=payment_id)
        return payment.status == Payment.Status.FAILED

    wait_for(failed, timeout=60)
    payment = Payment.objects.get(pk=payment_id)
    assert payment.failure_code == "provider_unavailable"
    assert payment.attempts == 4  # the first run and three retries
    assert _order_status(order_id) == Order.Status.PENDING_PAYMENT

    Order.objects.filter(pk=order_id).update(
        payment_deadline=Order.objects.get(pk=order_id).created_at
    )  # the deadline passes
    assert deadline_sweep() == [order_id]
    assert _order_status(order_id) == Order.Status.CANCELLED
    assert Stock.objects.get(variant_id=variant_id).on_hand == 3
    assert _successful_charges(order_id) == 0
    assert deadline_sweep() == []  # a second sweep finds nothing to do
    assert_shop_invariants()


# --- A database connection that drops mid-checkout ---------------------------------------


def test_a_dropped_database_connection_mid_checkout_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import psycopg

    from apps.catalog import stock as stock_module

    variant_id = _variant(on_hand=4)
    client = APIClient()
    cart = client.post("/api/v1/carts/", {}, format="json").json()
    client.post(
        f"/api/v1/carts/{cart['id']}/items/",
        {"variant_id": variant_id, "quantity": 2},
        format="json",
    )
    original = stock_module.stock_apply

    def drop_then_apply(**kwargs: Any) -> Any:
        pid = connection.connection.info.backend_pid  # type: ignore[union-attr]
        db = connection.settings_dict
        with psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=db["PORT"] or 5432,
            user=db["USER"] or "postgres",
            dbname=db["NAME"],
            autocommit=True,
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        return original(**kwargs)

    monkeypatch.setattr("apps.orders.checkout.stock_apply", drop_then_apply)
    response = _post_checkout(client, cart["id"])
    assert response.status_code == 503, response.content
    assert response.json()["error"] == "service_unavailable"
    connection.close()  # the next query opens a fresh connection
    assert not Order.objects.exists()
    assert not Payment.objects.exists()
    assert Stock.objects.get(variant_id=variant_id).on_hand == 4
    monkeypatch.undo()
    retry = _post_checkout(client, cart["id"])
    assert retry.status_code == 201, retry.content
    assert Stock.objects.get(variant_id=variant_id).on_hand == 2
    assert_shop_invariants()
