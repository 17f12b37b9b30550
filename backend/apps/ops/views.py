"""Staff-only ops endpoints."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.ops import services
from apps.ops.models import WorkerProbe
from apps.ops.serializers import WorkerProbeInputSerializer, WorkerProbeOutputSerializer


class WorkerProbeViewSet(
    mixins.CreateModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Send a probe through a queue and see which worker answered it, and under which trace."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = WorkerProbeOutputSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[WorkerProbe]:
        return WorkerProbe.objects.all()

    @extend_schema(request=WorkerProbeInputSerializer, responses={201: WorkerProbeOutputSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = WorkerProbeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        probe = services.worker_probe_create(queue=data.validated_data["queue"])
        return Response(WorkerProbeOutputSerializer(probe).data, status=status.HTTP_201_CREATED)
