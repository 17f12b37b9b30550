"""Admin for carts: browse and inspect; lines are edited through the API's rules, not here."""

from __future__ import annotations

from django.contrib import admin

from apps.cart.models import Cart, CartItem
from utils.admin import ReadOnlyInline


class CartItemInline(ReadOnlyInline):
    model = CartItem
    fields = ["variant", "quantity", "created_at", "updated_at"]
    readonly_fields = ["variant", "quantity", "created_at", "updated_at"]


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "status", "currency", "created_at", "updated_at"]
    list_filter = ["status", "currency"]
    search_fields = ["id", "user__email"]
    list_select_related = ["user"]
    readonly_fields = ["id", "user", "currency", "created_at", "updated_at"]
    date_hierarchy = "created_at"
    inlines = [CartItemInline]
