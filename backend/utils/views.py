"""ViewSet bases the apps share.

``StaffPatchViewSet``: list and retrieve for the view's readers, and create, partial
update and delete for staff, each as *validate the input serializer, call one service,
answer with the output serializer*. ``StaffWriteViewSet`` adds PUT, and its DELETE
deactivates. A subclass names its serializers and its ``StaffServices`` (or overrides the
``service_*`` methods); ``staff_write_schema`` documents a ``StaffWriteViewSet``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from utils.serializers import validated_input


@dataclass(frozen=True)
class StaffServices:
    """The three services a ``StaffWriteViewSet`` calls, and the keyword its instance goes
    by (``category_update(category=..., data=...)``)."""

    instance: str
    create: Callable[..., Any]
    update: Callable[..., Any]
    deactivate: Callable[..., Any]


def staff_write_schema(
    *,
    input_serializer: type[BaseSerializer],
    output_serializer: type[BaseSerializer],
    update_serializer: type[BaseSerializer] | None = None,
    list_summary: str,
) -> Any:
    """The OpenAPI description of a ``StaffWriteViewSet``: its inputs and outputs."""
    update = update_serializer or input_serializer
    return extend_schema_view(
        list=extend_schema(summary=list_summary),
        create=extend_schema(request=input_serializer, responses={201: output_serializer}),
        update=extend_schema(request=update, responses={200: output_serializer}),
        partial_update=extend_schema(request=update, responses={200: output_serializer}),
        destroy=extend_schema(
            responses={204: OpenApiResponse(description="Deactivated (never deleted).")}
        ),
    )


class StaffPatchViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Reads as the subclass's queryset allows; create, PATCH and DELETE through its
    services (staff only, by the subclass's ``permission_classes``); no PUT route.
    What DELETE does is the subclass's ``service_deactivate`` (or ``perform_destroy``)."""

    input_serializer_class: type[BaseSerializer]
    update_serializer_class: type[BaseSerializer] | None = None
    staff_services: StaffServices

    def service_create(self, **data: Any) -> Model:
        return self.staff_services.create(**data)

    def service_update(self, instance: Any, data: dict[str, Any]) -> Model:
        return self.staff_services.update(**{self.staff_services.instance: instance, "data": data})

    def service_deactivate(self, instance: Any) -> None:
        self.staff_services.deactivate(**{self.staff_services.instance: instance})

    def output_object(self, instance: Any) -> Any:
        """What the output serializer renders for ``instance`` (re-read with its relations)."""
        return instance

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.action != "list":
            return queryset  # list filters do not apply to one object
        return super().filter_queryset(queryset)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        values = validated_input(self.input_serializer_class, request)
        instance = self.service_create(**values)
        output = self.get_serializer(self.output_object(instance))
        return Response(output.data, status=status.HTTP_201_CREATED)

    def write_update(self, request: Request, *, partial: bool) -> Response:
        instance = self.get_object()
        serializer = self.update_serializer_class or self.input_serializer_class
        values = validated_input(serializer, request, partial=partial)
        instance = self.service_update(instance, values)
        return Response(self.get_serializer(self.output_object(instance)).data)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.write_update(request, partial=True)

    def perform_destroy(self, instance: Any) -> None:
        self.service_deactivate(instance)


class StaffWriteViewSet(StaffPatchViewSet):
    """``StaffPatchViewSet`` with PUT too. DELETE deactivates, never deletes."""

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.write_update(request, partial=kwargs.pop("partial", False))
