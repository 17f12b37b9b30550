"""Catalogue: categories (a tree), products, variants with prices, stock and its ledger.

Stock is kept per (variant, warehouse). ``Stock.on_hand`` is never negative (a
database CHECK) and always equals the sum of that variant's ``StockMovement`` rows
in that warehouse: every change writes a movement in the
same transaction (see ``apps.catalog.services``). No side effects in ``save()``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Category(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    # None: taxed as the "standard" class of the destination country.
    tax_class = models.ForeignKey(
        "pricing.TaxClass", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["is_active", "category"])]

    def __str__(self) -> str:
        return self.name


class Variant(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="variants")
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    attributes = models.JSONField(default=dict, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    weight_grams = models.PositiveIntegerField(default=0, help_text="Shipping weight in grams.")
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["product", "is_active"])]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="catalog_variant_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} ({self.name})"


class Warehouse(models.Model):
    """A place stock is kept and shipped from. Checkout takes from active warehouses in
    ``priority`` order (lower first, then id); an inactive one sells nothing."""

    DEFAULT_CODE = "default"

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 country code.")
    priority = models.PositiveIntegerField(default=100, help_text="Lower ships first.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class Stock(models.Model):
    """How many units of a variant are on hand in one warehouse.

    Locked with select_for_update to change, always in (variant id, warehouse id) order.
    """

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="stocks")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stocks")
    on_hand = models.IntegerField(default=0)
    # A change that takes on_hand from above this to it or below is a ``stock.low`` event.
    low_stock_threshold = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["variant_id", "warehouse_id"]
        constraints = [
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="catalog_stock_on_hand_gte_0"),
            models.UniqueConstraint(
                fields=["variant", "warehouse"], name="catalog_stock_variant_warehouse_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variant_id}@{self.warehouse_id}: {self.on_hand}"


class StockMovement(models.Model):
    """Append-only ledger: one row per change of ``Stock.on_hand``, signed."""

    class Reason(models.TextChoices):
        RECEIVE = "receive"
        SALE = "sale"
        RELEASE = "release"
        RESTOCK = "restock"
        ADJUST = "adjust"

    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="movements")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="movements")
    quantity = models.IntegerField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["variant", "-created_at"]),
            models.Index(fields=["variant", "warehouse"], name="catalog_sto_variant_wh_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(quantity=0), name="catalog_movement_quantity_nonzero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.variant_id} {self.quantity:+d} {self.reason}"
