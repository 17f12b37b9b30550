"""Admin for pricing rules: the same cross-row rules as the staff API
(``apps.pricing.staff.pricing_rule_check``), shown as form errors. Voucher uses are
written by checkout only: read-only here."""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models

from apps.catalog.cache import catalog_changed
from apps.pricing.models import (
    Promotion,
    ShippingMethod,
    ShippingZone,
    TaxClass,
    TaxRate,
    Voucher,
    VoucherUsage,
)
from apps.pricing.staff import pricing_rule_check
from utils.admin import ReadOnlyAdmin
from utils.errors import ApplicationError


class PricingRuleForm(forms.ModelForm):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for field in self.instance._meta.concrete_fields:
            # A list left blank in the form (ids, countries, tiers) arrives as None.
            if isinstance(field, models.JSONField) and cleaned.get(field.name, []) is None:
                cleaned[field.name] = field.get_default()
        candidate = copy.copy(self.instance)
        names = [f.name for f in candidate._meta.concrete_fields if f.name in cleaned]
        for field in names:
            setattr(candidate, field, cleaned[field])
        try:
            pricing_rule_check(candidate)
        except ApplicationError as exc:
            raise forms.ValidationError(
                "; ".join(f"{k}: {v}" for k, v in exc.details.items() if k != "message")
                or exc.message
            ) from exc
        for field in names:  # what the rules normalised (an upper-cased code, say)
            cleaned[field] = getattr(candidate, field)
        return cleaned


class ShippingMethodInline(admin.TabularInline):
    model = ShippingMethod
    extra = 0
    fields = ["code", "name", "rule", "price", "tiers", "free_over", "min_days", "max_days",
              "is_active", "position"]  # fmt: skip


@admin.register(ShippingZone)
class ShippingZoneAdmin(admin.ModelAdmin):
    form = PricingRuleForm
    list_display = ["name", "countries", "is_rest_of_world"]
    inlines = [ShippingMethodInline]


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    form = PricingRuleForm
    list_display = ["zone", "code", "name", "rule", "price", "free_over", "is_active"]
    list_filter = ["zone", "rule", "is_active"]
    list_select_related = ["zone"]


class TaxRateInline(admin.TabularInline):
    model = TaxRate
    extra = 0


@admin.register(TaxClass)
class TaxClassAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    inlines = [TaxRateInline]


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ["country", "tax_class", "rate"]
    list_filter = ["tax_class", "country"]
    list_select_related = ["tax_class"]


@admin.register(Voucher)
class VoucherAdmin(admin.ModelAdmin):
    form = PricingRuleForm
    list_display = ["code", "kind", "value", "used_count", "usage_limit", "is_active", "ends_at"]
    list_filter = ["kind", "is_active", "once_per_customer"]
    search_fields = ["code", "name"]
    readonly_fields = ["used_count", "created_at"]


@admin.register(VoucherUsage)
class VoucherUsageAdmin(ReadOnlyAdmin):
    list_display = ["voucher", "order", "customer_key", "created_at"]
    list_select_related = ["voucher", "order"]
    search_fields = ["voucher__code", "customer_key"]


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    form = PricingRuleForm
    list_display = ["name", "kind", "value", "starts_at", "ends_at", "is_active"]
    list_filter = ["kind", "is_active"]

    # The catalogue shows promoted prices: a changed promotion invalidates cached pages.
    def save_model(self, request: Any, obj: Promotion, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        catalog_changed()

    def delete_model(self, request: Any, obj: Promotion) -> None:
        super().delete_model(request, obj)
        catalog_changed()

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        super().delete_queryset(request, queryset)
        catalog_changed()
