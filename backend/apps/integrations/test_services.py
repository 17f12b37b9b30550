"""Outbound events and deliveries: rows with the change, signed POSTs, retries, disabling."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.cart.factories import cart_create
from apps.catalog.factories import variant_create
from apps.catalog.models import StockMovement
from apps.catalog.stock import at_default, stock_apply, stock_threshold_set
from apps.integrations import services
from apps.integrations.factories import delivery_make
from apps.integrations.models import (
    DeliveryAttempt,
    EventType,
    OutboundEvent,
    WebhookDelivery,
    WebhookEndpoint,
)
from apps.integrations.testing import Receiver
from apps.orders.factories import CHECKOUT_BODY, checkout_url, order_create
from apps.orders.models import Order
from apps.orders.transitions import order_transition
from utils import signing
from utils.errors import InvalidStateError

pytestmark = pytest.mark.django_db
DELIVER = "apps.integrations.tasks.webhook_deliver_task"
Published = list[tuple[str, tuple[Any, ...], Any]]


def _pay(order: Order) -> None:
    with transaction.atomic():
        order_transition(order=order, to_status=Order.Status.PAID)


def test_a_transition_writes_the_event_and_one_delivery_per_subscribed_endpoint(
    make_endpoint: Callable[..., WebhookEndpoint],
    published: Published,
    django_capture_on_commit_callbacks: Any,
) -> None:
    paid_listener = make_endpoint(events=[EventType.ORDER_PAID])
    make_endpoint(events=[EventType.ORDER_CANCELLED])
    make_endpoint(events=[EventType.ORDER_PAID], is_active=False)
    order = order_create()

    with django_capture_on_commit_callbacks(execute=True):
        _pay(order)

    event = OutboundEvent.objects.get()
    assert event.type == "order.paid"
    assert event.payload["order"]["number"] == order.number
    assert event.payload["order"]["total"] == "12.50"
    assert event.payload["order"]["lines"][0]["quantity"] == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint == paid_listener
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert (DELIVER, (delivery.pk,), None) in published


def test_a_rolled_back_change_leaves_no_event(
    make_endpoint: Callable[..., WebhookEndpoint], published: Published
) -> None:
    make_endpoint(events=[EventType.ORDER_PAID])
    order = order_create()
    with pytest.raises(RuntimeError), transaction.atomic():
        order_transition(order=order, to_status=Order.Status.PAID)
        raise RuntimeError("the change fails after the event was recorded")
    assert not OutboundEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_checkout_records_order_created_and_costs_no_query_without_endpoints(
    customer: Any, customer_client: APIClient, published: Published
) -> None:
    def checkout() -> int:
        cart = cart_create(user=customer, lines=[(variant_create(), 1)])
        with CaptureQueriesContext(connection) as ctx:
            response = customer_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
        assert response.status_code == 201, response.content
        return len(ctx.captured_queries)

    checkout()  # warm-up: the subscription table is cached, as in a running shop
    without = checkout()
    assert not OutboundEvent.objects.exists()

    services.endpoint_create(url="http://127.0.0.1:9/h", events=[EventType.ORDER_CREATED])
    checkout()
    with_endpoint = checkout()
    events = OutboundEvent.objects.filter(type=EventType.ORDER_CREATED)
    assert events.count() == 2
    # The live endpoints, the event and its deliveries, and the lines of the payload: four
    # more, and only for a shop that has an endpoint listening.
    assert with_endpoint - without == 4


def test_stock_low_fires_once_when_the_threshold_is_crossed(
    make_endpoint: Callable[..., WebhookEndpoint], published: Published
) -> None:
    make_endpoint(events=[EventType.STOCK_LOW])
    variant = variant_create(sku="LOW-1", stock=5)
    stock_threshold_set(variant_id=variant.pk, threshold=2)

    for _ in range(4):  # 5 -> 4 -> 3 -> 2 (crosses) -> 1 (already low)
        with transaction.atomic():
            stock_apply(changes=at_default({variant.pk: -1}), reason=StockMovement.Reason.ADJUST)

    event = OutboundEvent.objects.get()
    assert event.type == "stock.low"
    assert event.payload == {
        "variant": {"id": variant.pk, "sku": "LOW-1"},
        "on_hand": 2,
        "threshold": 2,
    }


def _delivery(endpoint: WebhookEndpoint, **fields: Any) -> WebhookDelivery:
    return delivery_make(endpoint, payload={"order": {"n": 1}}, **fields)


def test_a_delivery_posts_the_signed_event_and_succeeds(
    receiver: Receiver, make_endpoint: Callable[..., WebhookEndpoint], published: Published
) -> None:
    endpoint = make_endpoint(url=receiver.url, secret=receiver.secret)
    delivery = _delivery(endpoint)

    services.delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 1
    assert delivery.last_status_code == 200
    assert endpoint.last_success_at is not None
    (got,) = receiver.received
    assert got.signature_ok
    assert got.event == {
        "id": str(delivery.event_id),
        "type": "order.paid",
        "created_at": delivery.event.created_at.isoformat(),
        "data": {"order": {"n": 1}},
    }
    assert got.headers["Storefront-Event-Id"] == str(delivery.event_id)
    assert got.headers["Content-Type"] == "application/json"
    signing.signature_verify(
        body=got.body, header=got.headers["Storefront-Signature"], secret=endpoint.secret
    )
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.number, attempt.status_code, attempt.succeeded) == (1, 200, True)

    services.delivery_attempt(delivery_id=delivery.pk)  # a duplicate task: nothing more
    assert len(receiver.received) == 1


@override_settings(WEBHOOK_BACKOFF_SECONDS=10, WEBHOOK_BACKOFF_MAX_SECONDS=3600)
def test_a_failed_attempt_is_logged_and_retried_later_with_backoff(
    receiver: Receiver,
    make_endpoint: Callable[..., WebhookEndpoint],
    published: Published,
    django_capture_on_commit_callbacks: Any,
) -> None:
    receiver.statuses.extend([500, 503])
    endpoint = make_endpoint(url=receiver.url, secret=receiver.secret)
    delivery = _delivery(endpoint)
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_attempt(delivery_id=delivery.pk, now=now)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500"
    first_wait = (delivery.next_attempt_at - now).total_seconds()
    assert 5 <= first_wait <= 10

    services.delivery_attempt(delivery_id=delivery.pk, now=now)  # not due yet: no request
    assert len(receiver.received) == 1

    later = delivery.next_attempt_at
    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_attempt(delivery_id=delivery.pk, now=later)
    delivery.refresh_from_db()
    assert 10 <= (delivery.next_attempt_at - later).total_seconds() <= 20
    services.delivery_attempt(delivery_id=delivery.pk, now=delivery.next_attempt_at)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert list(DeliveryAttempt.objects.values_list("status_code", flat=True)) == [500, 503, 200]
    countdowns = [c for name, _, c in published if name == DELIVER]
    assert len(countdowns) == 2
    assert all(c is not None and c > 0 for c in countdowns)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_backoff_is_exponential_capped_and_jittered() -> None:
    rng = random.Random(7)
    with override_settings(WEBHOOK_BACKOFF_SECONDS=30, WEBHOOK_BACKOFF_MAX_SECONDS=3600):
        waits = [services.retry_delay(n, rng=rng) for n in range(1, 12)]
    for n, wait in enumerate(waits, start=1):
        ceiling = min(30 * 2 ** (n - 1), 3600)
        assert ceiling / 2 <= wait <= ceiling
    assert len({round(w, 3) for w in waits[-4:]}) == 4  # jitter: capped waits still differ


@override_settings(WEBHOOK_RETRY_WINDOW_SECONDS=3600, WEBHOOK_COUNTDOWN_MAX_SECONDS=600)
def test_after_the_retry_window_the_delivery_fails_and_the_endpoint_is_disabled(
    receiver: Receiver,
    make_endpoint: Callable[..., WebhookEndpoint],
    published: Published,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.default = 500
    endpoint = make_endpoint(url=receiver.url, secret=receiver.secret)
    delivery = _delivery(endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(minutes=60)
    )
    with caplog.at_level(logging.ERROR, logger="apps.integrations.services"):
        services.delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert not endpoint.is_active
    assert endpoint.disabled_reason.startswith("deliveries failing")
    assert any("disabled" in r.getMessage() for r in caplog.records)
    # A pending delivery of a disabled endpoint fails without a request.
    other = _delivery(endpoint)
    services.delivery_attempt(delivery_id=other.pk)
    other.refresh_from_db()
    assert other.status == WebhookDelivery.Status.FAILED
    assert other.last_error == "endpoint disabled"
    assert len(receiver.received) == 1


@override_settings(WEBHOOK_COUNTDOWN_MAX_SECONDS=1, WEBHOOK_BACKOFF_SECONDS=60)
def test_a_wait_longer_than_a_countdown_is_left_to_the_sweep(
    receiver: Receiver, make_endpoint: Callable[..., WebhookEndpoint], published: Published
) -> None:
    receiver.default = 500
    delivery = _delivery(make_endpoint(url=receiver.url, secret=receiver.secret))
    services.delivery_attempt(delivery_id=delivery.pk)
    assert [p for p in published if p[0] == DELIVER] == []
    delivery.refresh_from_db()

    assert services.delivery_redispatch(now=delivery.next_attempt_at) == 0  # within the grace
    later = delivery.next_attempt_at + timedelta(seconds=120)
    assert services.delivery_redispatch(now=later) == 1
    assert published[-1][:2] == (DELIVER, (delivery.pk,))


def test_the_sweep_resends_a_delivery_whose_task_was_lost(
    make_endpoint: Callable[..., WebhookEndpoint], published: Published
) -> None:
    delivery = _delivery(make_endpoint())
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    _delivery(make_endpoint())  # due now: its task is still on its way
    done = _delivery(make_endpoint(), status=WebhookDelivery.Status.DELIVERED)
    WebhookDelivery.objects.filter(pk=done.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    assert services.delivery_redispatch() == 1
    assert published == [(DELIVER, (delivery.pk,), None)]


def test_replay_sends_a_finished_delivery_again_and_refuses_a_pending_one(
    receiver: Receiver, make_endpoint: Callable[..., WebhookEndpoint], published: Published
) -> None:
    endpoint = make_endpoint(url=receiver.url, secret=receiver.secret)
    delivery = _delivery(endpoint, status=WebhookDelivery.Status.FAILED, attempts=9)

    services.delivery_replay(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING
    services.delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    assert delivery.attempts == 10
    assert json.loads(receiver.received[0].body)["id"] == str(delivery.event_id)

    pending = _delivery(endpoint)
    with pytest.raises(InvalidStateError):
        services.delivery_replay(delivery=pending)
    services.endpoint_update(endpoint=endpoint, data={"is_active": False})
    with pytest.raises(InvalidStateError, match="disabled"):
        services.delivery_replay(delivery=delivery)


def test_a_new_endpoint_is_seen_by_the_next_event_despite_the_cache(
    published: Published,
) -> None:
    with transaction.atomic():
        assert services.event_emit(event_type=EventType.ORDER_PAID, payload=dict) is None
    endpoint = services.endpoint_create(url="http://127.0.0.1:9/h", events=["order.paid"])
    with transaction.atomic():
        event = services.event_emit(event_type=EventType.ORDER_PAID, payload=dict)
    assert event is not None
    assert event.deliveries.get().endpoint == endpoint

    services.endpoint_delete(endpoint=endpoint)
    with transaction.atomic():
        assert services.event_emit(event_type=EventType.ORDER_PAID, payload=dict) is None
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk, deleted_at__isnull=False).exists()


def test_refunding_a_cancelled_paid_order_is_an_order_refunded_event(
    make_endpoint: Callable[..., WebhookEndpoint],
    django_capture_on_commit_callbacks: Any,
    staff: Any,
) -> None:
    from apps.payments.factories import order_paid
    from apps.payments.services import refund_create

    make_endpoint(events=[EventType.ORDER_CANCELLED, EventType.ORDER_REFUNDED])
    order = order_paid()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        order_transition(order=locked, to_status=Order.Status.CANCELLED, actor=staff)
        refund_create(order=locked, amount=None, restock=False, reason="Cancelled", actor=staff)

    events = list(OutboundEvent.objects.order_by("created_at").values_list("type", flat=True))
    assert events == ["order.cancelled", "order.refunded"]
    refunded = OutboundEvent.objects.get(type="order.refunded")
    assert refunded.payload["order"]["status"] == "cancelled"
    assert refunded.payload["order"]["refunded_total"] == refunded.payload["order"]["total"]


def test_a_cached_endpoint_whose_row_is_gone_never_fails_the_change(
    make_endpoint: Callable[..., WebhookEndpoint], published: Published
) -> None:
    endpoint = make_endpoint(events=[EventType.ORDER_PAID])
    with transaction.atomic():
        services.event_emit(event_type=EventType.ORDER_PAID, payload=dict)  # cached now
    WebhookDelivery.objects.all().delete()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()  # behind the cache's back

    order = order_create()
    _pay(order)  # no foreign key to a missing row: no event, no delivery

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert not WebhookDelivery.objects.exists()
