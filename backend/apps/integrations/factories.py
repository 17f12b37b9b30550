"""Test data for outbound webhooks. Imported by tests only; never by application code."""

from __future__ import annotations

from typing import Any

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from apps.integrations.models import EventType, OutboundEvent, WebhookDelivery, WebhookEndpoint


class WebhookEndpointFactory(DjangoModelFactory[WebhookEndpoint]):
    class Meta:
        model = WebhookEndpoint

    url = "http://127.0.0.1:9/hooks"
    events = factory.LazyFunction(lambda: list(EventType.values))
    secret = factory.Sequence(lambda n: f"whsec_test_{n:04d}")
    is_active = True


def delivery_make(
    endpoint: WebhookEndpoint,
    *,
    event: OutboundEvent | None = None,
    event_type: str = EventType.ORDER_PAID,
    payload: dict[str, Any] | None = None,
    **fields: Any,
) -> WebhookDelivery:
    """A delivery to ``endpoint`` of ``event`` (else of a new ``event_type`` event with
    ``payload``), pending and due now unless ``fields`` say otherwise."""
    if event is None:
        event = OutboundEvent.objects.create(type=event_type, payload=payload or {})
    fields.setdefault("next_attempt_at", timezone.now())
    return WebhookDelivery.objects.create(event=event, endpoint=endpoint, **fields)
