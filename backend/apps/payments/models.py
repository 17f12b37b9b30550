"""Payments, refunds, incoming provider webhook events, and the sandbox provider's ledger.

At most one captured payment per order is a database guarantee. Each row is
also the durable record of async work: a ``pending`` payment or refund, or a
``received`` webhook event, is re-dispatched by the sweep if its task was lost.
``SandboxCharge`` / ``SandboxRefund`` are what the offline sandbox provider
"charged": shared by every process, so tests can count real charges.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Payment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        REQUIRES_ACTION = "requires_action"
        CAPTURED = "captured"
        FAILED = "failed"
        # Abandoned by paying again; cancelled at the provider by payment_cancel_task.
        CANCELLED = "cancelled"
        # Succeeded at the provider while another payment of the order was captured:
        # never counted for the order, refunded in full automatically (Refund.Kind).
        DUPLICATE = "duplicate"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=20)
    payment_method = models.CharField(max_length=255, help_text="Provider token, e.g. tok_visa")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    provider_reference = models.CharField(max_length=255, blank=True, default="")
    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_message = models.CharField(max_length=500, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set (before the retry is published) when a transient failure scheduled another
    # attempt, cleared when an attempt starts: a pending payment whose attempt started
    # longer ago than the task's hard time limit with none scheduled lost its worker.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # Customer authentication (3-D Secure): where the provider sends the customer back,
    # and what the client needs to continue while ``requires_action``. Shown to the
    # order's owner only (GET /payments/{id}/), cleared once the payment settles.
    return_url = models.CharField(max_length=2000, blank=True, default="")
    client_secret = models.CharField(max_length=255, blank=True, default="")
    next_action = models.JSONField(default=dict, blank=True)
    # A ``cancelled`` payment with a provider reference is cancelled at the provider by a
    # task; set when the provider has answered (the sweep re-sends the task until then).
    provider_cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "last_attempt_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status="captured"),
                name="payments_one_captured_payment_per_order",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=models.F("amount")),
                name="payments_refunded_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"payment {self.id} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        """Sent to the provider with every charge attempt: retries never charge twice."""
        return f"payment-{self.id}"


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Kind(models.TextChoices):
        SHOP = "shop"  # asked through the API (staff) or by a cancellation
        EXTERNAL = "external"  # made at the provider (e.g. the Stripe dashboard), recorded
        DUPLICATE_CHARGE = "duplicate_charge"  # a second successful payment, given back

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    # The tax inside ``amount``: amount x the order's tax / total, half-up to the cent.
    tax_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=500, blank=True, default="")
    restock = models.BooleanField(default=False)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SHOP, db_index=True)
    # What goes back on the shelf when the refund succeeds, fixed when it is requested:
    # [{"line_id": 1, "variant_id": 2, "sku": "TEE-M", "quantity": 1}, ...]
    restock_lines = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    provider_reference = models.CharField(max_length=255, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # as on Payment
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_refund_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return f"refund {self.id} {self.amount} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        return f"refund-{self.id}"


class WebhookEvent(models.Model):
    """A provider event, stored once by (provider, event_id) before it is applied."""

    class Status(models.TextChoices):
        RECEIVED = "received"
        PROCESSED = "processed"
        IGNORED = "ignored"
        FAILED = "failed"

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="payments_webhook_event_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id} {self.type} ({self.status})"


def sandbox_charge_id() -> str:
    return f"ch_sbx_{uuid.uuid4().hex[:24]}"


def sandbox_refund_id() -> str:
    return f"re_sbx_{uuid.uuid4().hex[:24]}"


class SandboxCharge(models.Model):
    """One charge of the sandbox provider per idempotency key (a repeat returns it again)."""

    class Status(models.TextChoices):
        PROCESSING = "processing"  # only transient failures so far (tok_timeout)
        SUCCEEDED = "succeeded"
        DECLINED = "declined"
        REQUIRES_ACTION = "requires_action"
        CANCELED = "canceled"

    id = models.CharField(primary_key=True, max_length=40, default=sandbox_charge_id)
    idempotency_key = models.CharField(max_length=255, unique=True)
    token = models.CharField(max_length=255)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROCESSING)
    decline_code = models.CharField(max_length=64, blank=True, default="")
    calls = models.PositiveIntegerField(default=0, help_text="Requests made with this key")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.amount} {self.currency} ({self.status})"


class SandboxRefund(models.Model):
    """One refund of the sandbox provider per idempotency key."""

    id = models.CharField(primary_key=True, max_length=40, default=sandbox_refund_id)
    idempotency_key = models.CharField(max_length=255, unique=True)
    charge = models.ForeignKey(SandboxCharge, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.amount} {self.currency}"
