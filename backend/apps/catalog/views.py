"""Catalogue endpoints: public browsing, staff management of categories, products and variants.

Reads are open to everyone (customers see only active rows); writes need
``is_staff``. DELETE never deletes: it deactivates. Stock changes only through
``POST /variants/{id}/adjust-stock/``, which writes the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.paginator import Page
from django.core.paginator import Paginator as DjangoPaginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from apps.catalog import rows as page_rows
from apps.catalog import selectors, services
from apps.catalog.cache import cached_catalog_response, catalog_reads_announce
from apps.catalog.filters import ProductFilter, VariantFilter
from apps.catalog.models import Category, Product, Variant
from apps.catalog.page_data import (
    PageContent,
    StoredPage,
    known_list,
    list_store,
    page_content,
    reads_announce,
    serves,
)
from apps.catalog.serializers import (
    CategoryInputSerializer,
    CategoryOutputSerializer,
    ProductInputSerializer,
    ProductOutputSerializer,
    StockAdjustInputSerializer,
    StockMovementOutputSerializer,
    StockThresholdInputSerializer,
    StockThresholdOutputSerializer,
    VariantInputSerializer,
    VariantStaffOutputSerializer,
    VariantUpdateInputSerializer,
    product_output,
)
from apps.catalog.stock import stock_threshold_set
from utils.actors import request_actor
from utils.pagination import StandardPagination
from utils.permissions import PublicReadStaffWrite, is_staff
from utils.schema import error_response
from utils.serializers import datetime_formatter
from utils.views import StaffServices, StaffWriteViewSet, staff_write_schema

# 400, 401, 403, 404 and 429 are documented by utils.schema.ErrorAwareAutoSchema.


@staff_write_schema(
    input_serializer=CategoryInputSerializer,
    output_serializer=CategoryOutputSerializer,
    list_summary="Categories (customers see active ones only)",
)
class CategoryViewSet(StaffWriteViewSet):
    """The category tree, flat: each category names its parent's slug."""

    lookup_field = "slug"
    permission_classes = [PublicReadStaffWrite]
    serializer_class = CategoryOutputSerializer
    input_serializer_class = CategoryInputSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Category]:
        return selectors.category_list(include_inactive=is_staff(self.request))

    staff_services = StaffServices(
        instance="category",
        create=services.category_create,
        update=services.category_update,
        deactivate=services.category_deactivate,
    )


_PRODUCT_FILTERS = frozenset(ProductFilter.base_filters)


class _KnownPaginator(DjangoPaginator):
    """A paginator told its count (None: it counts) and, optionally, the rows of the page
    it will be asked for (None: it reads them)."""

    def __init__(
        self,
        object_list: Any,
        per_page: int,
        *,
        known_count: int | None,
        known_rows: list[dict[str, Any]] | None,
    ) -> None:
        super().__init__(object_list, per_page)
        self.known_count = known_count
        self.known_rows = known_rows

    @cached_property
    def count(self) -> int:
        return super().count if self.known_count is None else self.known_count

    def page(self, number: Any) -> Page:
        page = super().page(number)  # a lazy slice of object_list: not read here
        if self.known_rows is not None:
            page.object_list = self.known_rows
        return page


class ProductPagination(StandardPagination):
    """``StandardPagination`` that may be told the count and the page's rows: a computed
    page reads them from ``page_data`` when they were stored under the same content
    version (bench/profile.md, rows "catalogue content cached by version" and "list pages
    kept by content version")."""

    known_count: int | None = None
    known_rows: list[dict[str, Any]] | None = None

    def django_paginator_class(self, object_list: Any, per_page: int) -> DjangoPaginator:  # type: ignore[override]
        return _KnownPaginator(
            object_list, per_page, known_count=self.known_count, known_rows=self.known_rows
        )


@staff_write_schema(
    input_serializer=ProductInputSerializer,
    output_serializer=ProductOutputSerializer,
    list_summary="Products with their variants, filtered, ordered and paginated",
)
class ProductViewSet(StaffWriteViewSet):
    """Products by slug. Customers see active products and their active variants only."""

    lookup_field = "slug"
    permission_classes = [PublicReadStaffWrite]
    serializer_class = ProductOutputSerializer
    input_serializer_class = ProductInputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ProductFilter
    pagination_class = ProductPagination

    prices_valid_until = None

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list(include_inactive=is_staff(self.request))

    def _filtered(self) -> bool:
        return any(name in self.request.query_params for name in _PRODUCT_FILTERS)

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        # Without a filter parameter django-filter returns the queryset unchanged, after
        # building and validating its form: skip that (bench/profile.md, row "product
        # pages from rows").
        if self.action == "list" and not self._filtered():
            return queryset
        return super().filter_queryset(queryset)

    def _rows(self, request: Request, *, filtered: bool) -> tuple[QuerySet[Any], bool]:
        """The product rows to page, and whether they lack the category (``_complete``
        then reads it with the content)."""
        staff = is_staff(request)
        joined = not serves(request, include_inactive=staff)
        queryset = page_rows.product_rows(
            include_inactive=staff, filtered=filtered, category=joined
        )
        return queryset, not joined

    def _content(
        self, request: Request, rows: list[dict[str, Any]], *, category: bool
    ) -> PageContent:
        """The variants as entered and the promotions (and the category, filled in) of
        product rows."""
        content = page_content(
            request,
            [row["id"] for row in rows],
            include_inactive=is_staff(request),
            category_ids=[row["category_id"] for row in rows] if category else None,
        )
        if content.categories is not None:
            for row in rows:
                row["category__slug"], row["category__name"] = content.categories[
                    row["category_id"]
                ]
        return content

    def _answers(self, rows: list[dict[str, Any]], content: PageContent) -> list[dict[str, Any]]:
        """The answers for product rows with their content, promoted prices included (valid
        until ``prices_valid_until``), stock not yet (``_stock``)."""
        self.prices_valid_until = page_rows.product_rows_complete(
            rows, variants=content.variants, upcoming=content.upcoming
        )
        when = datetime_formatter()
        return [product_output(row, when) for row in rows]

    def _stock(
        self,
        request: Request,
        answers: list[dict[str, Any]],
        stock: dict[int, tuple[int, bool]] | None,
    ) -> None:
        """Lay the stock over the answers: as read with the content, or read now."""
        if stock is None:
            stock = page_rows.variant_availability(
                [answer["id"] for answer in answers], include_inactive=is_staff(request)
            )
        page_rows.stock_overlay(answers, stock)

    def _page(self, request: Request) -> Response:
        """The product list from dict rows (bench/profile.md, row "product pages from
        rows"): what ``ProductOutputSerializer`` writes for ``get_queryset``'s products.
        A page stored under the current content version whose prices are still valid
        (``page_data.known_list``) needs only its stock read (row "list pages kept by
        content version")."""
        known = known_list(request, include_inactive=is_staff(request))
        stored = known.page if known.page is not None and known.page.valid() else None
        pagination = self.paginator
        rows, category = self._rows(request, filtered=self._filtered())
        if isinstance(pagination, ProductPagination):
            pagination.known_count = known.count
            pagination.known_rows = None if stored is None else stored.answers
        stock = None
        if stored is not None:  # valid parameters: they were filtered under this version
            answers = self.paginate_queryset(rows) or []
            self.prices_valid_until = stored.valid_until
        else:
            page = self.paginate_queryset(self.filter_queryset(rows)) or []
            content = self._content(request, page, category=category)
            answers, stock = self._answers(page, content), content.stock
            counted = getattr(pagination, "page", None)
            if known.version is not None and counted is not None:
                count = counted.paginator.count
                list_store(
                    request, known.version, StoredPage(count, answers, self.prices_valid_until)
                )
        self._stock(request, answers, stock)
        return self.get_paginated_response(answers)

    def _detail(self, request: Request) -> Response:
        """One product, as ``_page`` builds each (same lookup and 404 as ``get_object``)."""
        rows, category = self._rows(request, filtered=False)
        row = get_object_or_404(rows, **{self.lookup_field: self.kwargs[self.lookup_field]})
        self.check_object_permissions(request, row)
        content = self._content(request, [row], category=category)
        answers = self._answers([row], content)
        self._stock(request, answers, content.stock)
        return Response(answers[0])

    def get_object(self) -> Product:
        product: Product = super().get_object()
        self.prices_valid_until = selectors.product_prices_apply([product])
        return product

    def _cacheable(self, compute: Callable[[], Response]) -> Callable[[], Response]:
        def run() -> Response:
            response = compute()
            # What invalidates the cached copy (apps.catalog.cache): the promotion
            # schedule, the stock of the variants shown, and for a list filtered by
            # stock any stock change.
            response.valid_until = self.prices_valid_until  # type: ignore[attr-defined]
            data = response.data if isinstance(response.data, dict) else {}
            products = data.get("results", [data]) if response.status_code == 200 else []
            response.variant_ids = [  # type: ignore[attr-defined]
                variant["id"] for product in products for variant in product.get("variants", ())
            ]
            response.depends_on_stock = "in_stock" in self.request.query_params  # type: ignore[attr-defined]
            return response

        return run

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if self.action in ("list", "retrieve") and not is_staff(request):
            catalog_reads_announce(request)  # before the throttles: they carry the reads
            if self.action == "list":
                reads_announce(request)
        super().initial(request, *args, **kwargs)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if is_staff(request):  # staff see inactive products: never cached
            return self._page(request)
        return cached_catalog_response(request, self._cacheable(lambda: self._page(request)))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if is_staff(request):
            return self._detail(request)
        return cached_catalog_response(request, self._cacheable(lambda: self._detail(request)))

    staff_services = StaffServices(
        instance="product",
        create=services.product_create,
        update=services.product_update,
        deactivate=services.product_deactivate,
    )

    def output_object(self, instance: Product) -> Product:
        product = selectors.product_get(slug=instance.slug, include_inactive=True)
        selectors.product_prices_apply([product])
        return product


@staff_write_schema(
    input_serializer=VariantInputSerializer,
    update_serializer=VariantUpdateInputSerializer,
    output_serializer=VariantStaffOutputSerializer,
    list_summary="All variants, active or not (staff)",
)
class VariantViewSet(StaffWriteViewSet):
    """Staff management of variants and their stock (through the ledger only)."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = VariantStaffOutputSerializer
    input_serializer_class = VariantInputSerializer
    update_serializer_class = VariantUpdateInputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = VariantFilter
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Variant]:
        return selectors.variant_list(include_inactive=True)

    staff_services = StaffServices(
        instance="variant",
        create=services.variant_create,
        update=services.variant_update,
        deactivate=services.variant_deactivate,
    )

    def output_object(self, instance: Variant) -> Variant:
        return selectors.variant_get(variant_id=instance.pk)

    @extend_schema(
        request=StockAdjustInputSerializer,
        responses={
            200: VariantStaffOutputSerializer,
            409: error_response("out_of_stock: the result would be below zero; details.variants."),
        },
    )
    @action(detail=True, methods=["post"], url_path="adjust-stock")
    def adjust_stock(self, request: Request, pk: str | None = None) -> Response:
        variant = self.get_object()
        data = StockAdjustInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.variant_stock_adjust(
            variant=variant, actor=request_actor(request), **data.validated_data
        )
        return Response(
            VariantStaffOutputSerializer(selectors.variant_get(variant_id=variant.pk)).data
        )

    @extend_schema(
        request=StockThresholdInputSerializer, responses={200: StockThresholdOutputSerializer}
    )
    @action(detail=True, methods=["post"], url_path="low-stock-threshold")
    def low_stock_threshold(self, request: Request, pk: str | None = None) -> Response:
        variant = self.get_object()
        data = StockThresholdInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        warehouse_id = data.validated_data.get("warehouse_id")
        if warehouse_id is not None:
            services.warehouse_for_adjustment(warehouse_id=warehouse_id)  # 400 if unknown
        row = stock_threshold_set(
            variant_id=variant.pk,
            threshold=data.validated_data["threshold"],
            warehouse_id=warehouse_id,
        )
        return Response(StockThresholdOutputSerializer(row).data)

    @extend_schema(
        request=None,
        responses={200: StockMovementOutputSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def movements(self, request: Request, pk: str | None = None) -> Response:
        variant = self.get_object()
        page = self.paginate_queryset(selectors.stock_movement_list(variant=variant))
        return self.get_paginated_response(StockMovementOutputSerializer(page, many=True).data)
