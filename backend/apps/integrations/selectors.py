"""Reads for outbound webhooks: endpoints (not deleted) and the delivery log."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.integrations.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(deleted_at__isnull=True).order_by("id")


def delivery_list() -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.select_related("event", "endpoint").order_by(
        "-created_at", "-id"
    )


def delivery_attempts(*, delivery: WebhookDelivery) -> QuerySet[DeliveryAttempt]:
    return DeliveryAttempt.objects.filter(delivery=delivery).order_by("number")


def deliveries_needing_attention() -> QuerySet[WebhookDelivery]:
    """Failed deliveries, and pending ones whose last attempt failed, newest first."""
    return delivery_list().filter(
        Q(status=WebhookDelivery.Status.FAILED)
        | Q(status=WebhookDelivery.Status.PENDING, attempts__gt=0)
    )


def endpoints_disabled() -> QuerySet[WebhookEndpoint]:
    return endpoint_list().filter(is_active=False).exclude(disabled_reason="")
