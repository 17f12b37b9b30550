"""Webhook endpoint and delivery log shapes. No business rules here."""

from __future__ import annotations

from rest_framework import serializers

from apps.integrations.models import DeliveryAttempt, EventType, WebhookDelivery, WebhookEndpoint
from utils.serializers import InputSerializer, StrictBooleanField


class EndpointInputSerializer(InputSerializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), min_length=1, max_length=20
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = StrictBooleanField(required=False, default=True)


class EndpointUpdateInputSerializer(InputSerializer):
    url = serializers.URLField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices),
        min_length=1,
        max_length=20,
        required=False,
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = StrictBooleanField(required=False)


class EndpointOutputSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices))

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "is_active",
            "disabled_reason",
            "disabled_at",
            "consecutive_failures",
            "last_success_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class EndpointWithSecretOutputSerializer(EndpointOutputSerializer):
    """The endpoint as created (or with a new secret): the only answer that shows it."""

    secret = serializers.CharField(
        help_text="Signs every delivery (`Storefront-Signature`). Shown once: store it now."
    )

    class Meta(EndpointOutputSerializer.Meta):
        fields = [*EndpointOutputSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class DeliveryAttemptOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "status_code", "duration_ms", "error", "succeeded", "created_at"]
        read_only_fields = fields


class DeliveryOutputSerializer(serializers.ModelSerializer):
    event_id = serializers.UUIDField(source="event.id")
    event_type = serializers.ChoiceField(source="event.type", choices=EventType.choices)
    endpoint_url = serializers.CharField(source="endpoint.url")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "endpoint",
            "endpoint_url",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_duration_ms",
            "last_error",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields


class DeliveryDetailOutputSerializer(DeliveryOutputSerializer):
    attempt_log = DeliveryAttemptOutputSerializer(many=True)
    payload = serializers.JSONField(source="event.payload")

    class Meta(DeliveryOutputSerializer.Meta):
        fields = [*DeliveryOutputSerializer.Meta.fields, "payload", "attempt_log"]
        read_only_fields = fields


class NoBodyInputSerializer(InputSerializer):
    """A verb that takes no body: any field sent is a 400 ``validation_error``."""
