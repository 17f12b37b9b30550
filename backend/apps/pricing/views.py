"""Staff API for pricing rules under /api/v1/pricing/: zones, methods, tax classes and
rates, vouchers, promotions. Staff only (``IsAdminUser``); writes go through
``apps.pricing.staff``. No PUT: PATCH changes what it names."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from apps.pricing import serializers as s
from apps.pricing.models import (
    Promotion,
    ShippingMethod,
    ShippingZone,
    TaxClass,
    TaxRate,
    Voucher,
)
from apps.pricing.staff import pricing_rule_delete, pricing_rule_save
from utils.schema import error_response


class _PricingStaffViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    permission_classes = [permissions.IsAdminUser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = "[0-9]+"
    model: ClassVar[type[Model]]
    input_serializer_class: ClassVar[type[BaseSerializer]]

    def get_queryset(self) -> QuerySet[Any]:
        return self.model._default_manager.all().order_by("pk")

    def create(self, request: Request) -> Response:
        data = self.input_serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        obj = pricing_rule_save(model=self.model, instance=None, data=dict(data.validated_data))
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        instance = self.get_object()
        data = self.input_serializer_class(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        obj = pricing_rule_save(model=self.model, instance=instance, data=dict(data.validated_data))
        return Response(self.get_serializer(obj).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        pricing_rule_delete(instance=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _schema(input_serializer: type[BaseSerializer], deleted: str) -> Any:
    return extend_schema_view(
        create=extend_schema(request=input_serializer),
        partial_update=extend_schema(request=input_serializer),
        destroy=extend_schema(
            responses={
                204: OpenApiResponse(description=deleted),
                409: error_response("invalid_state: still used by other rows (details.used_by)."),
            }
        ),
    )


@_schema(s.ShippingZoneInputSerializer, "Deleted, with its methods.")
class ShippingZoneViewSet(_PricingStaffViewSet):
    """Shipping zones: countries, or the one rest-of-world zone."""

    model = ShippingZone
    serializer_class = s.ShippingZoneOutputSerializer
    input_serializer_class = s.ShippingZoneInputSerializer


@_schema(s.ShippingMethodInputSerializer, "Deleted.")
class ShippingMethodViewSet(_PricingStaffViewSet):
    """Shipping methods of a zone: flat, subtotal tiers or weight tiers; free over."""

    model = ShippingMethod
    serializer_class = s.ShippingMethodOutputSerializer
    input_serializer_class = s.ShippingMethodInputSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return ShippingMethod.objects.select_related("zone").order_by("pk")


@_schema(s.TaxClassInputSerializer, "Deleted, with its rates.")
class TaxClassViewSet(_PricingStaffViewSet):
    """Tax classes (standard, reduced, zero, ...)."""

    model = TaxClass
    serializer_class = s.TaxClassOutputSerializer
    input_serializer_class = s.TaxClassInputSerializer


@_schema(s.TaxRateInputSerializer, "Deleted.")
class TaxRateViewSet(_PricingStaffViewSet):
    """Tax rates per (country, tax class), in percent."""

    model = TaxRate
    serializer_class = s.TaxRateOutputSerializer
    input_serializer_class = s.TaxRateInputSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return TaxRate.objects.select_related("tax_class").order_by("pk")


@_schema(s.VoucherInputSerializer, "Deactivated (never deleted: its uses stay).")
class VoucherViewSet(_PricingStaffViewSet):
    """Voucher codes."""

    model = Voucher
    serializer_class = s.VoucherOutputSerializer
    input_serializer_class = s.VoucherInputSerializer


@_schema(s.PromotionInputSerializer, "Deleted.")
class PromotionViewSet(_PricingStaffViewSet):
    """Automatic catalogue sales."""

    model = Promotion
    serializer_class = s.PromotionOutputSerializer
    input_serializer_class = s.PromotionInputSerializer
