"""Staff API for pricing rules under /api/v1/pricing/: zones, methods, tax classes and
rates, vouchers, promotions. Staff only (``IsAdminUser``); writes go through
``apps.pricing.staff``. No PUT: PATCH changes what it names."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, viewsets
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
from utils.views import StaffPatchViewSet


class _PricingStaffViewSet(StaffPatchViewSet):
    """One rule model's staff CRUD: ``StaffPatchViewSet`` (PATCH, no PUT), writing
    through ``pricing_rule_save`` and a real DELETE through ``pricing_rule_delete``.

    A subclass names its model and the OpenAPI text of its DELETE as class keywords;
    its serializers are the model's ``<Model>InputSerializer`` and
    ``<Model>OutputSerializer`` in ``apps.pricing.serializers``, and ``related`` names
    the foreign keys its reads select."""

    permission_classes = [permissions.IsAdminUser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = "[0-9]+"
    model: ClassVar[type[Model]]
    related: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, *, model: type[Model], deleted: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.model = model
        cls.serializer_class = getattr(s, f"{model.__name__}OutputSerializer")
        cls.input_serializer_class = getattr(s, f"{model.__name__}InputSerializer")
        _schema(cls.input_serializer_class, deleted)(cls)

    def get_queryset(self) -> QuerySet[Any]:
        return self.model._default_manager.select_related(*self.related).order_by("pk")

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # The default backends apply to every action here, as they always have (an
        # unknown ?ordering is refused on a retrieve too).
        return viewsets.GenericViewSet.filter_queryset(self, queryset)

    def service_create(self, **data: Any) -> Model:
        return pricing_rule_save(model=self.model, instance=None, data=data)

    def service_update(self, instance: Any, data: dict[str, Any]) -> Model:
        return pricing_rule_save(model=self.model, instance=instance, data=data)

    def perform_destroy(self, instance: Any) -> None:
        pricing_rule_delete(instance=instance)


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


class ShippingZoneViewSet(
    _PricingStaffViewSet, model=ShippingZone, deleted="Deleted, with its methods."
):
    """Shipping zones: countries, or the one rest-of-world zone."""


class ShippingMethodViewSet(_PricingStaffViewSet, model=ShippingMethod, deleted="Deleted."):
    """Shipping methods of a zone: flat, subtotal tiers or weight tiers; free over."""

    related = ("zone",)


class TaxClassViewSet(_PricingStaffViewSet, model=TaxClass, deleted="Deleted, with its rates."):
    """Tax classes (standard, reduced, zero, ...)."""


class TaxRateViewSet(_PricingStaffViewSet, model=TaxRate, deleted="Deleted."):
    """Tax rates per (country, tax class), in percent."""

    related = ("tax_class",)


class VoucherViewSet(
    _PricingStaffViewSet, model=Voucher, deleted="Deactivated (never deleted: its uses stay)."
):
    """Voucher codes."""


class PromotionViewSet(_PricingStaffViewSet, model=Promotion, deleted="Deleted."):
    """Automatic catalogue sales."""
