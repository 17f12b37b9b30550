"""Catalogue endpoints: public browsing, staff management of categories, products and variants.

Reads are open to everyone (customers see only active rows); writes need
``is_staff``. DELETE never deletes: it deactivates. Stock changes only through
``POST /variants/{id}/adjust-stock/``, which writes the ledger.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.catalog import selectors, services
from apps.catalog.cache import cached_catalog_response, catalog_cache_keys
from apps.catalog.filters import ProductFilter, VariantFilter
from apps.catalog.models import Category, Product, Variant
from apps.catalog.serializers import (
    CategoryInputSerializer,
    CategoryOutputSerializer,
    ProductInputSerializer,
    ProductOutputSerializer,
    StockAdjustInputSerializer,
    StockMovementOutputSerializer,
    VariantInputSerializer,
    VariantStaffOutputSerializer,
    VariantUpdateInputSerializer,
)
from utils.schema import error_response


def _is_staff(request: Request) -> bool:
    return bool(getattr(request.user, "is_staff", False))


def _error(description: str) -> OpenApiResponse:
    return error_response(description)


_WRITE_ERRORS = {
    400: _error("validation_error: field errors in details."),
    401: _error("not_authenticated"),
    403: _error("permission_denied: staff only."),
}
_DETAIL_WRITE_ERRORS = {**_WRITE_ERRORS, 404: _error("not_found")}
_DEACTIVATED = {204: OpenApiResponse(description="Deactivated (never deleted)."), **_WRITE_ERRORS}


class PublicReadStaffWrite(permissions.BasePermission):
    """Anyone may read; only staff may write."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return permissions.IsAdminUser().has_permission(request, view)


@extend_schema_view(
    list=extend_schema(summary="Categories (customers see active ones only)"),
    retrieve=extend_schema(responses={200: CategoryOutputSerializer, 404: _error("not_found")}),
    destroy=extend_schema(responses={**_DEACTIVATED, 404: _error("not_found")}),
)
class CategoryViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The category tree, flat: each category names its parent's slug."""

    lookup_field = "slug"
    permission_classes = [PublicReadStaffWrite]
    serializer_class = CategoryOutputSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Category]:
        return selectors.category_list(include_inactive=_is_staff(self.request))

    @extend_schema(
        request=CategoryInputSerializer,
        responses={201: CategoryOutputSerializer, **_WRITE_ERRORS},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = CategoryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        category = services.category_create(**data.validated_data)
        return Response(CategoryOutputSerializer(category).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CategoryInputSerializer,
        responses={200: CategoryOutputSerializer, **_DETAIL_WRITE_ERRORS},
    )
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        category = self.get_object()
        data = CategoryInputSerializer(data=request.data, partial=kwargs.pop("partial", False))
        data.is_valid(raise_exception=True)
        category = services.category_update(category=category, data=data.validated_data)
        return Response(CategoryOutputSerializer(category).data)

    @extend_schema(
        request=CategoryInputSerializer,
        responses={200: CategoryOutputSerializer, **_DETAIL_WRITE_ERRORS},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def perform_destroy(self, instance: Category) -> None:
        services.category_deactivate(category=instance)


@extend_schema_view(
    list=extend_schema(summary="Products with their variants, filtered, ordered and paginated"),
    retrieve=extend_schema(responses={200: ProductOutputSerializer, 404: _error("not_found")}),
    destroy=extend_schema(responses={**_DEACTIVATED, 404: _error("not_found")}),
)
class ProductViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Products by slug. Customers see active products and their active variants only."""

    lookup_field = "slug"
    permission_classes = [PublicReadStaffWrite]
    serializer_class = ProductOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ProductFilter

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list(include_inactive=_is_staff(self.request))

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.action != "list":
            return queryset  # list filters do not apply to one product
        return super().filter_queryset(queryset)

    def throttle_prefetch_keys(self, request: Request) -> list[str]:
        """Cache keys of a public read, fetched in the throttle's Redis round trip."""
        if self.action in ("list", "retrieve") and not _is_staff(request):
            return catalog_cache_keys(request)
        return []

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if _is_staff(request):  # staff see inactive products: never cached
            return super().list(request, *args, **kwargs)
        return cached_catalog_response(request, lambda: super(ProductViewSet, self).list(request))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if _is_staff(request):
            return super().retrieve(request, *args, **kwargs)
        return cached_catalog_response(
            request, lambda: super(ProductViewSet, self).retrieve(request, *args, **kwargs)
        )

    @extend_schema(
        request=ProductInputSerializer,
        responses={201: ProductOutputSerializer, **_WRITE_ERRORS},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ProductInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        product = services.product_create(**data.validated_data)
        output = selectors.product_get(slug=product.slug, include_inactive=True)
        return Response(ProductOutputSerializer(output).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ProductInputSerializer,
        responses={200: ProductOutputSerializer, **_DETAIL_WRITE_ERRORS},
    )
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        product = self.get_object()
        data = ProductInputSerializer(data=request.data, partial=kwargs.pop("partial", False))
        data.is_valid(raise_exception=True)
        product = services.product_update(product=product, data=data.validated_data)
        output = selectors.product_get(slug=product.slug, include_inactive=True)
        return Response(ProductOutputSerializer(output).data)

    @extend_schema(
        request=ProductInputSerializer,
        responses={200: ProductOutputSerializer, **_DETAIL_WRITE_ERRORS},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def perform_destroy(self, instance: Product) -> None:
        services.product_deactivate(product=instance)


@extend_schema_view(
    list=extend_schema(summary="All variants, active or not (staff)"),
    retrieve=extend_schema(responses={200: VariantStaffOutputSerializer, 404: _error("not_found")}),
    destroy=extend_schema(responses={**_DEACTIVATED, 404: _error("not_found")}),
)
class VariantViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Staff management of variants and their stock (through the ledger only)."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = VariantStaffOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = VariantFilter
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Variant]:
        return selectors.variant_list(include_inactive=True)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    @extend_schema(
        request=VariantInputSerializer,
        responses={201: VariantStaffOutputSerializer, **_WRITE_ERRORS},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = VariantInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        variant = services.variant_create(**data.validated_data)
        output = selectors.variant_get(variant_id=variant.pk)
        return Response(VariantStaffOutputSerializer(output).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=VariantUpdateInputSerializer,
        responses={200: VariantStaffOutputSerializer, **_DETAIL_WRITE_ERRORS},
    )
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        variant = self.get_object()
        data = VariantUpdateInputSerializer(data=request.data, partial=kwargs.pop("partial", False))
        data.is_valid(raise_exception=True)
        variant = services.variant_update(variant=variant, data=data.validated_data)
        return Response(
            VariantStaffOutputSerializer(selectors.variant_get(variant_id=variant.pk)).data
        )

    @extend_schema(
        request=VariantUpdateInputSerializer,
        responses={200: VariantStaffOutputSerializer, **_DETAIL_WRITE_ERRORS},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def perform_destroy(self, instance: Variant) -> None:
        services.variant_deactivate(variant=instance)

    @extend_schema(
        request=StockAdjustInputSerializer,
        responses={
            200: VariantStaffOutputSerializer,
            **_DETAIL_WRITE_ERRORS,
            409: _error("out_of_stock: the result would be below zero; details.variants."),
        },
    )
    @action(detail=True, methods=["post"], url_path="adjust-stock")
    def adjust_stock(self, request: Request, pk: str | None = None) -> Response:
        variant = self.get_object()
        data = StockAdjustInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.variant_stock_adjust(variant=variant, actor=request.user, **data.validated_data)
        return Response(
            VariantStaffOutputSerializer(selectors.variant_get(variant_id=variant.pk)).data
        )

    @extend_schema(
        request=None,
        responses={200: StockMovementOutputSerializer(many=True), **_DETAIL_WRITE_ERRORS},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def movements(self, request: Request, pk: str | None = None) -> Response:
        variant = self.get_object()
        page = self.paginate_queryset(selectors.stock_movement_list(variant=variant))
        return self.get_paginated_response(StockMovementOutputSerializer(page, many=True).data)
