"""Ops input/output shapes."""

from __future__ import annotations

from rest_framework import serializers

from apps.ops.models import WorkerProbe
from utils.serializers import InputSerializer


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
