"""Pricing rules: shipping zones and methods, tax classes and rates, vouchers, promotions.

These rows are read into the typed ``apps.pricing.info`` objects by
``apps.pricing.selectors`` and priced by the pure ``apps.pricing.calculate.price_cart``;
nothing here computes a price. Money is ``DecimalField(12, 2)``; percentages are
``DecimalField(5, 2)`` (``20.00`` is 20 %).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ShippingZone(models.Model):
    """A set of ISO 3166-1 alpha-2 countries; at most one zone is the rest of the world."""

    name = models.CharField(max_length=100, unique=True)
    countries = models.JSONField(default=list, blank=True, help_text='e.g. ["DE", "FR"]')
    is_rest_of_world = models.BooleanField(
        default=False, help_text="Serves every country no other zone lists."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_rest_of_world"],
                condition=Q(is_rest_of_world=True),
                name="pricing_one_rest_of_world_zone",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ShippingMethod(models.Model):
    class Rule(models.TextChoices):
        FLAT = "flat"
        SUBTOTAL = "subtotal"  # tiers by the goods' amount after discounts
        WEIGHT = "weight"  # tiers by the cart's weight in grams

    zone = models.ForeignKey(ShippingZone, on_delete=models.CASCADE, related_name="methods")
    code = models.SlugField(max_length=32, help_text="Stable: what checkout sends.")
    name = models.CharField(max_length=100)
    rule = models.CharField(max_length=16, choices=Rule.choices, default=Rule.FLAT)
    price = models.DecimalField(
        max_digits=12, decimal_places=2, default=0, help_text="The flat price (rule flat)."
    )
    # [{"up_to": "50.00" | 2000, "price": "4.90"}, ...] ascending; the last may have up_to null.
    tiers = models.JSONField(default=list, blank=True)
    free_over = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    min_days = models.PositiveIntegerField(default=1)
    max_days = models.PositiveIntegerField(default=5)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["zone", "code"], name="pricing_method_code_per_zone"),
            models.CheckConstraint(condition=Q(price__gte=0), name="pricing_method_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.zone.name}: {self.code}"


class TaxClass(models.Model):
    """standard, reduced, zero, ...; a product without one is taxed as ``standard``."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "tax classes"

    def __str__(self) -> str:
        return self.code


class TaxRate(models.Model):
    country = models.CharField(max_length=2)
    tax_class = models.ForeignKey(TaxClass, on_delete=models.CASCADE, related_name="rates")
    rate = models.DecimalField(max_digits=5, decimal_places=2, help_text="Percent: 19.00 is 19 %.")

    class Meta:
        ordering = ["country", "tax_class"]
        constraints = [
            models.UniqueConstraint(fields=["country", "tax_class"], name="pricing_rate_unique"),
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=100), name="pricing_rate_0_to_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country}/{self.tax_class_id}: {self.rate}%"


class DiscountKind(models.TextChoices):
    PERCENTAGE = "percentage"
    FIXED = "fixed"
    FREE_SHIPPING = "free_shipping"  # vouchers only


class Voucher(models.Model):
    """A code the customer types. Scope: whole order, or the listed products/categories."""

    code = models.CharField(max_length=32, help_text="Case-insensitive; stored upper-case.")
    name = models.CharField(max_length=100, blank=True, default="")
    kind = models.CharField(max_length=16, choices=DiscountKind.choices)
    value = models.DecimalField(
        max_digits=12, decimal_places=2, default=0, help_text="Percent or amount off."
    )
    # Scope: empty lists = the whole order. Ids, not many-to-many tables, so a voucher is
    # one row to read at checkout (the query budget); the staff API checks they exist.
    product_ids = models.JSONField(default=list, blank=True)
    category_ids = models.JSONField(default=list, blank=True)
    min_subtotal = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    usage_limit = models.PositiveIntegerField(null=True, blank=True)
    used_count = models.PositiveIntegerField(default=0)
    once_per_customer = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["code"], name="pricing_voucher_code_unique"),
            models.CheckConstraint(condition=Q(value__gte=0), name="pricing_voucher_value_gte_0"),
            models.CheckConstraint(
                condition=Q(usage_limit__isnull=True) | Q(used_count__lte=models.F("usage_limit")),
                name="pricing_voucher_within_limit",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class VoucherUsage(models.Model):
    """One use of a voucher by one order. ``customer_key`` (``user:<id>`` or
    ``email:<address>``) is set only for once-per-customer vouchers, where it is unique."""

    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="usages")
    order = models.OneToOneField(
        "orders.Order", on_delete=models.CASCADE, related_name="voucher_usage"
    )
    customer_key = models.CharField(max_length=300, null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["voucher", "customer_key"], name="pricing_voucher_once_per_customer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.voucher_id} by {self.customer_key or self.order_id}"


class Promotion(models.Model):
    """An automatic catalogue sale on variants, products or categories in a time window."""

    name = models.CharField(max_length=100)
    kind = models.CharField(
        max_length=16,
        choices=[(DiscountKind.PERCENTAGE, "percentage"), (DiscountKind.FIXED, "fixed")],
    )
    value = models.DecimalField(max_digits=12, decimal_places=2)
    # What it applies to (any match): ids, so the running promotions are one query.
    variant_ids = models.JSONField(default=list, blank=True)
    product_ids = models.JSONField(default=list, blank=True)
    category_ids = models.JSONField(default=list, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="pricing_promotion_value_gt_0"),
        ]

    def __str__(self) -> str:
        return self.name
