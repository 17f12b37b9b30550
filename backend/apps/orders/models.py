"""Orders: the order with its price snapshots, and its timeline of status changes.

Status only changes through ``apps.orders.transitions.order_transition``, which
checks the move is allowed and writes an ``OrderEvent``. One order per cart is
a database guarantee (``cart`` is unique), so a double click can't make two.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment"
        PAID = "paid"
        PARTIALLY_FULFILLED = "partially_fulfilled"  # some units shipped or packed, not all
        FULFILLED = "fulfilled"
        CANCELLED = "cancelled"
        REFUNDED = "refunded"
        PARTIALLY_REFUNDED = "partially_refunded"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=20, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    cart = models.OneToOneField(
        "cart.Cart", null=True, blank=True, on_delete=models.SET_NULL, related_name="order"
    )
    email = models.EmailField()
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT, db_index=True
    )
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_total = models.DecimalField(max_digits=12, decimal_places=2)
    # Snapshots of apps.pricing.calculate.price_cart at checkout (see docs/architecture.md).
    discount_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    tax_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    shipping_tax = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    prices_include_tax = models.BooleanField(default=True)
    voucher_code = models.CharField(max_length=32, blank=True, default="")
    # The discount lines, named: [{"kind": "voucher"|"promotion", "code": "WELCOME10",
    # "name": "...", "amount": "4.99"}]. A snapshot on the row, so reading an order costs
    # no extra query (the order endpoints' budgets) and refunds and emails can name them.
    discounts = models.JSONField(default=list, blank=True)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    refunded_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    shipping_method = models.CharField(max_length=32)
    shipping_address = models.JSONField()
    billing_address = models.JSONField(null=True, blank=True)
    # sha256 of the guest access token; the token itself is shown once, at checkout.
    access_token_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    payment_deadline = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    carrier = models.CharField(max_length=100, blank=True, default="")
    tracking_number = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"]),
            models.Index(fields=["status", "payment_deadline"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="orders_order_total_gte_0"),
            models.CheckConstraint(
                condition=Q(refunded_total__gte=0) & Q(refunded_total__lte=models.F("total")),
                name="orders_order_refunded_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.number} ({self.status})"


class OrderLine(models.Model):
    """What was bought, as it was at checkout (prices and names are snapshots)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(
        "catalog.Variant", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    sku = models.CharField(max_length=64)
    product_name = models.CharField(max_length=200)
    variant_name = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)  # after the promotion
    undiscounted_unit_price = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    quantity = models.PositiveIntegerField()
    # Units in fulfilments that are not cancelled, and units that came back in returns
    # (counted when a return is received; units asked for in open returns are counted
    # from the returns, apps.returns). Kept on the line under the order's row lock, with
    # the database refusing more than was ordered (or shipped) whatever a caller does.
    quantity_fulfilled = models.PositiveIntegerField(default=0)
    quantity_returned = models.PositiveIntegerField(default=0)
    discount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    net = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    tax = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    line_total = models.DecimalField(max_digits=12, decimal_places=2)  # gross = net + tax

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity_fulfilled__lte=F("quantity")),
                name="orders_line_fulfilled_lte_qty",
            ),
            models.CheckConstraint(
                condition=Q(quantity_returned__lte=F("quantity_fulfilled")),
                name="orders_line_returned_lte_fulfilled",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} x {self.quantity}"


class Fulfilment(models.Model):
    """A parcel: some units of some lines, leaving one warehouse, with its tracking.

    ``pending`` (packed, not handed to the carrier) may be cancelled; ``shipped`` is
    final. The order's status follows the units in fulfilments that are not cancelled
    (``partially_fulfilled`` or ``fulfilled``).
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SHIPPED = "shipped"
        CANCELLED = "cancelled"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fulfilments")
    number = models.CharField(max_length=32, unique=True)  # "<order number>-F<n>"
    warehouse = models.ForeignKey(
        "catalog.Warehouse", on_delete=models.PROTECT, related_name="fulfilments"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    carrier = models.CharField(max_length=100, blank=True, default="")
    tracking_number = models.CharField(max_length=100, blank=True, default="")
    tracking_url = models.URLField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"fulfilment {self.number} ({self.status})"


class FulfilmentLine(models.Model):
    fulfilment = models.ForeignKey(Fulfilment, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="fulfilment_lines")
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fulfilment", "line"], name="orders_fulfilmentline_unique_line"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="orders_fulfilmentline_qty_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line_id} x {self.quantity}"


class Allocation(models.Model):
    """Which warehouse a line's units were taken from at checkout (a line may be split).

    ``returned`` counts units given back to that warehouse since (cancellation,
    refund restock), so stock goes back where it came from and never more than it took.
    """

    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="allocations")
    warehouse = models.ForeignKey(
        "catalog.Warehouse", on_delete=models.PROTECT, related_name="allocations"
    )
    quantity = models.PositiveIntegerField()
    returned = models.PositiveIntegerField(default=0)
    # Set on an allocation made by a fulfilment leaving another warehouse than the units
    # were allocated at: ``source`` is the allocation the units were moved from (its
    # ``returned`` went up by as many), so cancelling the fulfilment can move them back.
    fulfilment = models.ForeignKey(
        Fulfilment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="moved_allocations",
    )
    source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="moves"
    )

    class Meta:
        ordering = ["line_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(returned__lte=F("quantity")), name="orders_allocation_returned_lte_qty"
            ),
        ]

    def __str__(self) -> str:
        return f"line {self.line_id}: {self.quantity} from {self.warehouse_id}"


class OrderEvent(models.Model):
    """One row per status change (and notable non-status events such as a refund)."""

    class ActorKind(models.TextChoices):
        CUSTOMER = "customer"
        STAFF = "staff"
        SYSTEM = "system"
        PROVIDER = "provider"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, blank=True, default="")
    to_status = models.CharField(max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    note = models.CharField(max_length=500, blank=True, default="")
    trace_id = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '-'} -> {self.to_status}"
