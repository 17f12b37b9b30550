"""Ops input/output shapes: probes, task results and retries, webhook events, stuck payments.

Output only, apart from the probe input: ops endpoints take their filters as
query parameters (``filters.py``). No business rules here.
"""

from __future__ import annotations

import json
from typing import Any

from django_celery_results.models import TaskResult
from rest_framework import serializers

from apps.ops import registry
from apps.ops.models import TaskRetry, WorkerProbe
from apps.payments.models import Payment, WebhookEvent
from utils.serializers import InputSerializer, MoneyField

TRACEBACK_CHARS = 2000
ERROR_CHARS = 300


class WorkerProbeInputSerializer(InputSerializer):
    queue = serializers.ChoiceField(choices=WorkerProbe.Queue.choices, default="default")


class WorkerProbeOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkerProbe
        fields = [
            "id",
            "queue",
            "created_at",
            "request_trace_id",
            "completed_at",
            "worker",
            "task_trace_id",
        ]
        read_only_fields = fields


def _stored_text(value: str | None) -> str | None:
    """django-celery-results stores the args' repr JSON-encoded: show the repr itself."""
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else json.dumps(decoded)


class LastRetrySerializer(serializers.Serializer):
    task_id = serializers.CharField(allow_blank=True)
    state = serializers.CharField(allow_null=True)
    requested_at = serializers.DateTimeField()


class TaskResultOutputSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="task_name", allow_null=True)
    state = serializers.CharField(source="status")
    args = serializers.SerializerMethodField()
    kwargs = serializers.SerializerMethodField()
    traceback = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    retryable = serializers.SerializerMethodField()
    last_retry = serializers.SerializerMethodField()

    class Meta:
        model = TaskResult
        fields = [
            "task_id",
            "name",
            "state",
            "args",
            "kwargs",
            "worker",
            "date_created",
            "date_done",
            "traceback",
            "error",
            "retryable",
            "last_retry",
        ]
        read_only_fields = fields

    def get_args(self, obj: TaskResult) -> str | None:
        return _stored_text(obj.task_args)

    def get_kwargs(self, obj: TaskResult) -> str | None:
        return _stored_text(obj.task_kwargs)

    def get_traceback(self, obj: TaskResult) -> str | None:
        """The end of the traceback, where the exception is."""
        text = obj.traceback
        if not text or len(text) <= TRACEBACK_CHARS:
            return text
        return "…" + text[-TRACEBACK_CHARS:]

    def get_error(self, obj: TaskResult) -> str | None:
        """The exception line of the traceback (its last non-empty line)."""
        lines = [line for line in (obj.traceback or "").splitlines() if line.strip()]
        return lines[-1].strip()[:ERROR_CHARS] if lines else None

    def get_retryable(self, obj: TaskResult) -> bool:
        cache: dict[str | None, bool] = self.context.setdefault("retryable_names", {})
        if obj.task_name not in cache:
            cache[obj.task_name] = registry.is_retryable(obj.task_name)
        return obj.status == "FAILURE" and cache[obj.task_name]

    @staticmethod
    def _last_retry(obj: TaskResult) -> dict[str, Any] | None:
        requested_at = getattr(obj, "last_retry_requested_at", None)
        if requested_at is None:
            return None
        return {
            "task_id": getattr(obj, "last_retry_task_id", "") or "",
            "state": getattr(obj, "last_retry_state", None),
            "requested_at": requested_at,
        }

    def get_last_retry(self, obj: TaskResult) -> dict[str, Any] | None:
        data = self._last_retry(obj)
        return None if data is None else LastRetrySerializer(data).data


class TaskRetryOutputSerializer(serializers.ModelSerializer):
    requested_by = serializers.EmailField(
        source="requested_by.email", allow_null=True, default=None
    )

    class Meta:
        model = TaskRetry
        fields = [
            "original_task_id",
            "retry_task_id",
            "task_name",
            "args",
            "requested_by",
            "requested_at",
        ]
        read_only_fields = fields


class WebhookEventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEvent
        fields = [
            "id",
            "provider",
            "event_id",
            "type",
            "status",
            "attempts",
            "last_error",
            "received_at",
            "processed_at",
        ]
        read_only_fields = fields


class WebhookEventDetailOutputSerializer(WebhookEventOutputSerializer):
    class Meta(WebhookEventOutputSerializer.Meta):
        fields = [*WebhookEventOutputSerializer.Meta.fields, "payload"]
        read_only_fields = fields


class OrderBriefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField()
    status = serializers.CharField()


class StuckPaymentOutputSerializer(serializers.ModelSerializer):
    amount = MoneyField()
    order = OrderBriefSerializer()
    last_activity_at = serializers.DateTimeField()
    last_error = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "status",
            "provider",
            "amount",
            "currency",
            "attempts",
            "last_attempt_at",
            "next_attempt_at",
            "created_at",
            "last_activity_at",
            "last_error",
            "order",
        ]
        read_only_fields = fields

    def get_last_error(self, obj: Payment) -> dict[str, str] | None:
        if not obj.failure_code and not obj.failure_message:
            return None
        return {"code": obj.failure_code, "message": obj.failure_message}


class UnshippedFulfilmentOutputSerializer(serializers.Serializer):
    """A parcel packed and not shipped past the threshold (the ops page's list)."""

    number = serializers.CharField()
    order = OrderBriefSerializer()
    warehouse = serializers.CharField(source="warehouse.code")
    carrier = serializers.CharField()
    created_at = serializers.DateTimeField()


class NoFieldsInputSerializer(InputSerializer):
    """An ops verb takes no body: any field sent is a 400 ``validation_error``."""
