"""Outbound webhooks end to end: a real worker on the ``webhooks`` queue delivers signed
events to a real receiver on 127.0.0.1 that fails the first two requests; after the
retries, and after duplicate tasks, the receiver sees each event exactly once (by id)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from apps.accounts.factories import jwt_client
from apps.accounts.models import User
from apps.catalog.factories import variant_create
from apps.integrations.models import DeliveryAttempt, OutboundEvent, WebhookDelivery
from apps.integrations.testing import Receiver
from config.testing import api_checkout
from tests.conftest import Worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_receiver_that_fails_twice_gets_every_event_once_signed(
    worker_factory: Callable[..., Worker],
) -> None:
    receiver = Receiver().start()
    try:
        staff = User.objects.create_user("ops@example.com", "pw-long-enough-1", is_staff=True)
        created = jwt_client(staff).post(
            "/api/v1/webhook-endpoints/",
            {"url": receiver.url, "events": ["order.created", "order.paid"]},
            format="json",
        )
        assert created.status_code == 201, created.content
        receiver.secret = created.json()["secret"]
        receiver.statuses.extend([500, 503])  # the first two requests fail, whichever they are

        worker_factory(
            queues="default,payments,emails,webhooks",
            env={"WEBHOOK_BACKOFF_SECONDS": "0.5", "WEBHOOK_BACKOFF_MAX_SECONDS": "2"},
        )
        variant = variant_create(sku="HOOK-1", stock=5)
        number = api_checkout(APIClient(), variant.pk, email="hook@example.com")["number"]

        def all_delivered() -> bool:
            deliveries = WebhookDelivery.objects.all()
            return len(deliveries) == 2 and all(d.status == "delivered" for d in deliveries)

        wait_for(all_delivered, timeout=60, interval=0.2)

        # Duplicate tasks of delivered events (a redelivered message): no second request.
        from apps.integrations.tasks import webhook_deliver_task

        for delivery in WebhookDelivery.objects.all():
            webhook_deliver_task.apply_async(args=(delivery.pk,))
        time.sleep(2)

        events = {str(e.id): e.type for e in OutboundEvent.objects.all()}
        assert sorted(events.values()) == ["order.created", "order.paid"]
        assert all(r.signature_ok for r in receiver.received)
        assert [r.status for r in receiver.received[:2]] == [500, 503]
        # After dedupe by event id the receiver has each event exactly once...
        assert sorted(receiver.seen_ids) == sorted(events)
        # ...and no event was accepted twice: the worker stops at the first 2xx.
        accepted = Counter(r.event["id"] for r in receiver.received if r.status == 200)
        assert accepted == Counter(dict.fromkeys(events, 1))
        for received in receiver.received:
            assert received.event["data"]["order"]["number"] == number
            assert received.headers["Storefront-Event-Id"] == received.event["id"]
        failed_attempts = DeliveryAttempt.objects.filter(succeeded=False)
        assert sorted(a.status_code for a in failed_attempts) == [500, 503]
        assert DeliveryAttempt.objects.filter(succeeded=True).count() == 2
    finally:
        receiver.stop()
