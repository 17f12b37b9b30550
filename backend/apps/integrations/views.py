"""Staff-only outbound webhook endpoints and their delivery log (with replay)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from apps.integrations import selectors, services
from apps.integrations.filters import DeliveryFilter
from apps.integrations.models import WebhookDelivery, WebhookEndpoint
from apps.integrations.serializers import (
    DeliveryDetailOutputSerializer,
    DeliveryOutputSerializer,
    EndpointInputSerializer,
    EndpointOutputSerializer,
    EndpointUpdateInputSerializer,
    EndpointWithSecretOutputSerializer,
    NoBodyInputSerializer,
)
from utils.schema import error_response
from utils.serializers import validated_input


class WebhookEndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Where the shop sends its events. The secret is shown once: on create and rotate."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = EndpointOutputSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        return selectors.endpoint_list()

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "create":
            return EndpointInputSerializer
        if self.action == "partial_update":
            return EndpointUpdateInputSerializer
        return EndpointOutputSerializer

    @extend_schema(
        request=EndpointInputSerializer, responses={201: EndpointWithSecretOutputSerializer}
    )
    def create(self, request: Request) -> Response:
        values = validated_input(EndpointInputSerializer, request)
        endpoint = services.endpoint_create(**values)
        return Response(
            EndpointWithSecretOutputSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=EndpointUpdateInputSerializer, responses={200: EndpointOutputSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        endpoint = self.get_object()
        values = validated_input(EndpointUpdateInputSerializer, request, partial=True)
        endpoint = services.endpoint_update(endpoint=endpoint, data=values)
        return Response(EndpointOutputSerializer(endpoint).data)

    def perform_destroy(self, instance: WebhookEndpoint) -> None:
        services.endpoint_delete(endpoint=instance)

    @extend_schema(request=None, responses={200: EndpointWithSecretOutputSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        validated_input(NoBodyInputSerializer, request)
        endpoint = services.endpoint_secret_rotate(endpoint=self.get_object())
        return Response(EndpointWithSecretOutputSerializer(endpoint).data)


class WebhookDeliveryViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The delivery log: each event to each endpoint, its attempts; replay a finished one."""

    permission_classes = [permissions.IsAdminUser]
    filterset_class = DeliveryFilter
    ordering_fields = ["created_at", "next_attempt_at"]

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        queryset = selectors.delivery_list()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("attempt_log")
        return queryset

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "retrieve":
            return DeliveryDetailOutputSerializer
        return DeliveryOutputSerializer

    @extend_schema(
        request=None,
        responses={
            202: DeliveryOutputSerializer,
            409: error_response(
                "invalid_state: the delivery is still pending, or its endpoint is disabled."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str) -> Response:
        validated_input(NoBodyInputSerializer, request)
        delivery = services.delivery_replay(delivery=self.get_object())
        delivery = selectors.delivery_list().get(pk=delivery.pk)
        return Response(DeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
