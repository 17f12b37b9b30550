"""Returns: a customer asks to send back units that were shipped; staff take it from there.

A ``ReturnRequest`` moves ``requested → approved → received → refunded`` (or
``requested``/``approved`` → ``rejected`` by staff, or → ``cancelled`` by the customer
or staff before anything arrived) only through
``apps.returns.transitions.return_transition``, which writes an ``OrderEvent`` on the
order. ``ReturnLine`` says how many units of an order line come back, how many
arrived, and where they were restocked. No side effects here: services do the work.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class ReturnRequest(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested"
        APPROVED = "approved"
        REJECTED = "rejected"
        RECEIVED = "received"  # the parcel arrived; refunded once its refund succeeds
        REFUNDED = "refunded"
        CANCELLED = "cancelled"  # withdrawn before anything arrived: the units are free again

    class Reason(models.TextChoices):
        DAMAGED = "damaged"
        WRONG_ITEM = "wrong_item"
        NOT_AS_DESCRIBED = "not_as_described"
        SIZE_OR_FIT = "size_or_fit"
        NO_LONGER_NEEDED = "no_longer_needed"
        OTHER = "other"

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="returns")
    number = models.CharField(max_length=32, unique=True)  # "<order number>-R<n>"
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.REQUESTED, db_index=True
    )
    reason = models.CharField(max_length=32, choices=Reason.choices)
    note = models.CharField(max_length=1000, blank=True, default="")  # the customer's words
    staff_note = models.CharField(max_length=1000, blank=True, default="")  # shown on rejection
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The refund of the received units: pending until the provider pays it (then the
    # return is ``refunded``); a failed one may be replaced by asking again.
    refund = models.ForeignKey(
        "payments.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="returns"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"return {self.number} ({self.status})"


class ReturnLine(models.Model):
    return_request = models.ForeignKey(
        ReturnRequest, on_delete=models.CASCADE, related_name="lines"
    )
    line = models.ForeignKey("orders.OrderLine", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()  # asked for
    quantity_received = models.PositiveIntegerField(default=0)
    restock = models.BooleanField(default=False)
    restock_warehouse = models.ForeignKey(
        "catalog.Warehouse", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # What the return's refund gives back for this line (its share of the line's gross,
    # discount and tax included), fixed when the refund is asked for.
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    refund_tax = models.DecimalField(max_digits=12, decimal_places=2, default=0)  # inside it

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["return_request", "line"], name="returns_line_unique_order_line"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="returns_line_qty_gt_0"),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity")),
                name="returns_line_received_lte_qty",
            ),
            models.CheckConstraint(
                condition=Q(restock=False) | Q(restock_warehouse__isnull=False),
                name="returns_line_restock_has_warehouse",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line_id} x {self.quantity}"
