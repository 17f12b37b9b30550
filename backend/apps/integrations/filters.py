"""Query-parameter filters of the delivery log (django-filter): invalid values are a 400."""

from __future__ import annotations

import django_filters

from apps.integrations.models import EventType, WebhookDelivery


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=WebhookDelivery.Status.choices)
    endpoint = django_filters.NumberFilter(field_name="endpoint_id")
    event_type = django_filters.ChoiceFilter(field_name="event__type", choices=EventType.choices)
    event_id = django_filters.UUIDFilter(field_name="event_id")

    class Meta:
        model = WebhookDelivery
        fields = ["status", "endpoint", "event_type", "event_id"]
