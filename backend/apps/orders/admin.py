"""Admin for orders: read-only views of orders, their lines and their timeline.

Status, money and lines change only through the services (checkout, cancel,
fulfil, refunds), so that every change writes its event and ledger rows; the
admin shows, it does not edit.
"""

from __future__ import annotations

from django.contrib import admin

from apps.orders.models import Fulfilment, FulfilmentLine, Order, OrderEvent, OrderLine
from utils.admin import ReadOnlyAdmin, ReadOnlyInline

_LINE_FIELDS = (
    "sku",
    "product_name",
    "variant_name",
    "undiscounted_unit_price",
    "unit_price",
    "quantity",
    "discount",
    "net",
    "tax_rate",
    "tax",
    "line_total",
)
_EVENT_FIELDS = (
    "created_at",
    "from_status",
    "to_status",
    "actor",
    "actor_kind",
    "note",
    "trace_id",
)


_FULFILMENT_FIELDS = (
    "number",
    "status",
    "warehouse",
    "carrier",
    "tracking_number",
    "tracking_url",
    "created_by",
    "created_at",
    "shipped_at",
    "cancelled_at",
)


class FulfilmentInline(ReadOnlyInline):
    """The order's parcels (packed, shipped or cancelled through the fulfilment API)."""

    model = Fulfilment
    fields = _FULFILMENT_FIELDS
    readonly_fields = _FULFILMENT_FIELDS
    show_change_link = True


class FulfilmentLineInline(ReadOnlyInline):
    model = FulfilmentLine
    fields = ("line", "quantity")
    readonly_fields = ("line", "quantity")


@admin.register(Fulfilment)
class FulfilmentAdmin(ReadOnlyAdmin):
    """Parcels, newest first; ship and cancel them with the API (``/orders/{id}/fulfilments/``)."""

    list_display = ["number", "status", "warehouse", "carrier", "tracking_number", "created_at"]
    list_filter = ["status", "warehouse", "created_at"]
    search_fields = ["number", "order__number", "tracking_number"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    list_select_related = ["warehouse"]
    fields = ("order", *_FULFILMENT_FIELDS)
    readonly_fields = fields
    inlines = [FulfilmentLineInline]


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = _LINE_FIELDS
    readonly_fields = _LINE_FIELDS


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = _EVENT_FIELDS
    readonly_fields = _EVENT_FIELDS


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "email", "status", "total", "currency", "created_at"]
    list_filter = ["status", "created_at", "shipping_method"]
    search_fields = ["number", "email"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    list_select_related = ["user"]
    inlines = [OrderLineInline, FulfilmentInline, OrderEventInline]
    fieldsets = (
        (None, {"fields": ("number", "status", "user", "email", "cart")}),
        (
            "Money",
            {
                "fields": (
                    "currency",
                    "subtotal",
                    "discount_total",
                    "shipping_total",
                    "shipping_tax",
                    "tax_total",
                    "total",
                    "refunded_total",
                    "prices_include_tax",
                    "voucher_code",
                    "discounts",
                )
            },
        ),
        (
            "Shipping",
            {
                "fields": (
                    "shipping_method",
                    "shipping_address",
                    "billing_address",
                    "carrier",
                    "tracking_number",
                )
            },
        ),
        (
            "Dates",
            {
                "fields": (
                    "created_at",
                    "updated_at",
                    "payment_deadline",
                    "paid_at",
                    "fulfilled_at",
                    "cancelled_at",
                )
            },
        ),
    )
