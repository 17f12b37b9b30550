"""Test data for outbound webhooks. Imported by tests only; never by application code."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from apps.integrations.models import EventType, WebhookEndpoint


class WebhookEndpointFactory(DjangoModelFactory[WebhookEndpoint]):
    class Meta:
        model = WebhookEndpoint

    url = "http://127.0.0.1:9/hooks"
    events = factory.LazyFunction(lambda: list(EventType.values))
    secret = factory.Sequence(lambda n: f"whsec_test_{n:04d}")
    is_active = True
