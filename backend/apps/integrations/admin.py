"""Admin views of webhook endpoints and deliveries, read-only: the API holds the verbs
(an endpoint change must go through the services, which refresh the subscriptions)."""

from __future__ import annotations

from django.contrib import admin

from apps.integrations.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from utils.admin import ReadOnlyAdmin, ReadOnlyInline


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["id", "url", "is_active", "consecutive_failures", "last_success_at"]
    list_filter = ["is_active"]
    exclude = ["secret"]


class DeliveryAttemptInline(ReadOnlyInline):
    model = DeliveryAttempt


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "event", "endpoint", "status", "attempts", "last_status_code"]
    list_filter = ["status"]
    list_select_related = ["event", "endpoint"]
    inlines = [DeliveryAttemptInline]
