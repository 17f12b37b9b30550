"""Staff-only ops endpoints: overview, task results and retries, webhook events and
replays, stuck payments, worker probes, and the Prometheus scrape (``/metrics``).

JWT or the admin session (CSRF enforced) authenticate; the dashboard page's
script uses the session. JWT comes first so an anonymous call is a 401.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django_celery_results.models import TaskResult
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication

from apps.ops import metrics, selectors, services
from apps.ops.filters import TaskResultFilter, WebhookEventFilter
from apps.ops.models import WorkerProbe
from apps.ops.overview import overview_build
from apps.ops.serializers import (
    NoFieldsInputSerializer,
    StuckPaymentOutputSerializer,
    TaskResultOutputSerializer,
    TaskRetryOutputSerializer,
    WebhookEventDetailOutputSerializer,
    WebhookEventOutputSerializer,
    WorkerProbeInputSerializer,
    WorkerProbeOutputSerializer,
)
from apps.payments.models import Payment, WebhookEvent
from utils.actors import request_actor
from utils.serializers import validated_input

STAFF_AUTHENTICATION = [JWTAuthentication, SessionAuthentication]


class OpsViewSet(viewsets.GenericViewSet):
    authentication_classes = STAFF_AUTHENTICATION
    permission_classes = [permissions.IsAdminUser]


class WorkerProbeViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, OpsViewSet):
    """Send a probe through a queue and see which worker answered it, and under which trace."""

    serializer_class = WorkerProbeOutputSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[WorkerProbe]:
        return WorkerProbe.objects.all()

    @extend_schema(request=WorkerProbeInputSerializer, responses={201: WorkerProbeOutputSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        values = validated_input(WorkerProbeInputSerializer, request)
        probe = services.worker_probe_create(queue=values["queue"])
        return Response(WorkerProbeOutputSerializer(probe).data, status=status.HTTP_201_CREATED)


class OverviewViewSet(OpsViewSet):
    """Queues, workers, recent task outcomes and stuck work, at a glance."""

    filter_backends: list[Any] = []
    pagination_class = None

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def list(self, request: Request) -> Response:
        return Response(overview_build())


class TaskResultViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OpsViewSet):
    """Stored Celery task results, newest first; re-send a failed one."""

    serializer_class = TaskResultOutputSerializer
    filterset_class = TaskResultFilter
    ordering_fields = ["date_created", "date_done"]
    lookup_field = "task_id"
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[TaskResult]:
        return selectors.task_result_list()

    @extend_schema(request=None, responses={202: TaskRetryOutputSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, task_id: str) -> Response:
        validated_input(NoFieldsInputSerializer, request)
        retry = services.task_retry(task_id=task_id, requested_by=request_actor(request))
        return Response(TaskRetryOutputSerializer(retry).data, status=status.HTTP_202_ACCEPTED)


class WebhookEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OpsViewSet):
    """Stored provider webhook events; replay one (processing is idempotent)."""

    filterset_class = WebhookEventFilter
    ordering_fields = ["received_at"]

    def get_queryset(self) -> QuerySet[WebhookEvent]:
        return selectors.webhook_event_list()

    def get_serializer_class(self) -> type[WebhookEventOutputSerializer]:
        if self.action == "retrieve":
            return WebhookEventDetailOutputSerializer
        return WebhookEventOutputSerializer

    @extend_schema(request=None, responses={202: WebhookEventOutputSerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str) -> Response:
        validated_input(NoFieldsInputSerializer, request)
        event = services.webhook_replay(event_id=int(self.get_object().pk))
        return Response(WebhookEventOutputSerializer(event).data, status=status.HTTP_202_ACCEPTED)


class StuckPaymentViewSet(OpsViewSet):
    """Payments pending, waiting for action, or failing on an unreachable provider too long."""

    serializer_class = StuckPaymentOutputSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Payment]:
        return selectors.payment_stuck_list()

    @extend_schema(responses={200: StuckPaymentOutputSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def stuck(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        data = self.get_serializer(page, many=True).data
        return self.get_paginated_response(data)


class ScrapeRenderer(BaseRenderer):
    """A media type ``/metrics`` can answer in; the body is rendered by prometheus-client."""

    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        return data if isinstance(data, bytes) else str(data).encode()


class PrometheusTextRenderer(ScrapeRenderer):
    media_type = "text/plain"
    format = "prometheus"


class OpenMetricsRenderer(ScrapeRenderer):
    media_type = "application/openmetrics-text"
    format = "openmetrics"


class MetricsView(APIView):
    """Prometheus scrape: staff (JWT or session) or ``Authorization: Bearer <METRICS_TOKEN>``.

    ``Accept`` picks the format: Prometheus text for ``text/plain``, ``*/*`` or none,
    OpenMetrics for ``application/openmetrics-text``; another type is a 406, after the
    credentials are checked. Refusals are JSON in the error shape, whatever was asked for.
    """

    authentication_classes = [metrics.MetricsTokenAuthentication, *STAFF_AUTHENTICATION]
    permission_classes = [metrics.IsStaffOrMetricsToken]
    renderer_classes = [PrometheusTextRenderer, OpenMetricsRenderer]

    @extend_schema(
        exclude=True, responses={200: OpenApiResponse(description="Prometheus text format")}
    )
    def get(self, request: Request) -> HttpResponse:
        body, content_type = metrics.render_latest(request.META.get("HTTP_ACCEPT", ""))
        return HttpResponse(body, content_type=content_type)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # The scrape itself is a plain HttpResponse; only refusals are DRF responses here.
        if isinstance(response, Response):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
