"""Admin for the catalogue. Stock and its ledger are read-only here: stock changes only
through ``POST /api/v1/variants/{id}/adjust-stock/`` (or another ledger writer), so
``on_hand`` always equals the sum of the movements.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet, Sum
from django.http import HttpRequest
from django.utils.html import format_html_join

from apps.catalog import services
from apps.catalog.cache import catalog_changed
from apps.catalog.models import Category, Product, Stock, StockMovement, Variant, Warehouse
from utils.admin import ReadOnlyAdmin, ReadOnlyInline

LEDGER_ROWS = 50


class CatalogChangedAdmin(admin.ModelAdmin):
    """Saves and deletes bump the catalogue's content version after the commit, as the
    staff API's services do, so cached catalogue pages are never older than a commit
    (the admin's change view, inlines included, is one transaction: one bump covers it)."""

    def save_model(self, request: Any, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        catalog_changed()

    def delete_model(self, request: Any, obj: Any) -> None:
        super().delete_model(request, obj)
        catalog_changed()

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        super().delete_queryset(request, queryset)
        catalog_changed()


@admin.register(Category)
class CategoryAdmin(CatalogChangedAdmin):
    list_display = ["name", "slug", "parent", "position", "is_active", "updated_at"]
    list_filter = ["is_active", "parent"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["parent"]
    raw_id_fields = ["parent"]


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    fields = ["sku", "name", "price", "currency", "weight_grams", "position", "is_active"]
    show_change_link = True
    can_delete = False


@admin.register(Product)
class ProductAdmin(CatalogChangedAdmin):
    list_display = ["name", "slug", "category", "is_active", "created_at"]
    list_filter = ["is_active", "category"]
    search_fields = ["name", "slug", "description", "variants__sku"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["category"]
    raw_id_fields = ["category"]
    date_hierarchy = "created_at"
    inlines = [VariantInline]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            if isinstance(obj, Variant):
                services.stock_row_ensure(variant=obj)


class StockInline(ReadOnlyInline):
    model = Stock
    fields = ["warehouse", "on_hand", "low_stock_threshold", "updated_at"]
    readonly_fields = ["warehouse", "on_hand", "low_stock_threshold", "updated_at"]


class StockMovementInline(ReadOnlyInline):
    model = StockMovement
    fields = ["created_at", "warehouse", "quantity", "reason", "note", "order", "actor"]
    readonly_fields = ["created_at", "warehouse", "quantity", "reason", "note", "order", "actor"]
    ordering = ["-created_at", "-id"]
    max_num = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[StockMovement]:
        return super().get_queryset(request).select_related("actor", "order")


@admin.register(Variant)
class VariantAdmin(CatalogChangedAdmin):
    list_display = ["sku", "name", "product", "price", "currency", "on_hand", "is_active"]
    list_filter = ["is_active", "currency", "product__category"]
    search_fields = ["sku", "name", "product__name", "product__slug"]
    list_select_related = ["product"]
    raw_id_fields = ["product"]
    inlines = [StockInline, StockMovementInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Variant]:
        return super().get_queryset(request).annotate(on_hand_total=Sum("stocks__on_hand"))

    @admin.display(description="on hand (all warehouses)", ordering="on_hand_total")
    def on_hand(self, obj: Variant) -> int | None:
        return getattr(obj, "on_hand_total", None)

    def save_model(self, request: Any, obj: Variant, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            services.stock_row_ensure(variant=obj)


@admin.register(Warehouse)
class WarehouseAdmin(CatalogChangedAdmin):  # availability sums the active warehouses
    list_display = ["code", "name", "country", "priority", "is_active", "updated_at"]
    list_filter = ["is_active", "country"]
    search_fields = ["code", "name"]
    ordering = ["priority", "id"]


@admin.register(Stock)
class StockAdmin(ReadOnlyAdmin):
    list_display = ["variant", "warehouse", "on_hand", "updated_at"]
    list_filter = ["warehouse"]
    search_fields = ["variant__sku", "variant__name", "variant__product__name"]
    list_select_related = ["variant", "warehouse"]
    readonly_fields = ["variant", "warehouse", "on_hand", "updated_at", "ledger"]
    fields = ["variant", "warehouse", "on_hand", "updated_at", "ledger"]

    @admin.display(description=f"ledger (latest {LEDGER_ROWS})")
    def ledger(self, obj: Stock) -> str:
        rows = StockMovement.objects.filter(
            variant_id=obj.variant_id, warehouse_id=obj.warehouse_id
        ).order_by("-created_at", "-id")[:LEDGER_ROWS]
        return format_html_join(
            "\n",
            "<div>{} &nbsp; {} &nbsp; {} &nbsp; {}</div>",
            ((row.created_at, f"{row.quantity:+d}", row.reason, row.note) for row in rows),
        )


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at", "variant", "warehouse", "quantity", "reason", "order", "actor", "note"
    ]  # fmt: skip
    list_filter = ["reason", "warehouse"]
    search_fields = ["variant__sku", "note", "actor__email"]
    list_select_related = ["variant", "warehouse", "actor", "order"]
    raw_id_fields = ["variant", "order", "actor"]
    date_hierarchy = "created_at"
