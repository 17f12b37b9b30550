"""Admin for carts: browse and inspect; lines are edited through the API's rules, not here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.cart.models import Cart, CartItem


class CartItemInline(admin.TabularInline):
    model = CartItem
    extra = 0
    fields = ["variant", "quantity", "created_at", "updated_at"]
    readonly_fields = ["variant", "quantity", "created_at", "updated_at"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "status", "currency", "created_at", "updated_at"]
    list_filter = ["status", "currency"]
    search_fields = ["id", "user__email"]
    list_select_related = ["user"]
    readonly_fields = ["id", "user", "currency", "created_at", "updated_at"]
    date_hierarchy = "created_at"
    inlines = [CartItemInline]
