"""Email log: one row per email the shop means to send, created before it is sent.

Order emails name their order (one per order, kind and reference); account emails
(password reset, email verification) have no order and a unique ``reference`` per
kind instead.
"""

from __future__ import annotations

from django.db import models


class EmailLog(models.Model):
    class Kind(models.TextChoices):
        ORDER_CONFIRMATION = "order_confirmation"
        PAYMENT_FAILED = "payment_failed"
        ORDER_CANCELLED = "order_cancelled"
        ORDER_FULFILLED = "order_fulfilled"
        ORDER_SHIPPED = "order_shipped"  # one per fulfilment (reference: its number)
        RETURN_APPROVED = "return_approved"
        RETURN_REJECTED = "return_rejected"
        RETURN_REFUNDED = "return_refunded"
        REFUND_ISSUED = "refund_issued"
        PASSWORD_RESET = "password_reset"
        EMAIL_VERIFICATION = "email_verification"

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"  # handed (or about to be handed) to the mail backend
        SENT = "sent"
        FAILED = "failed"
        # Nothing to send after all (a reset asked for an address without an account).
        SKIPPED = "skipped"

    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.CASCADE, related_name="emails"
    )
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # Distinguishes several emails of one kind (e.g. the refund id); "" when one per order.
    reference = models.CharField(max_length=64, blank=True, default="")
    recipient = models.EmailField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "kind", "reference"], name="notifications_one_email_per_kind"
            ),
            models.UniqueConstraint(
                fields=["kind", "reference"],
                condition=models.Q(order__isnull=True),
                name="notifications_one_account_email_per_reference",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient} ({self.status})"

    def message_id(self, domain: str) -> str:
        """The ``Message-ID`` of this email, the same on every attempt: a resend after an
        unknown outcome is recognisable (and can be deduplicated) downstream."""
        if self.order_id is None:  # an account email (reset, verification)
            return f"<account-email-{self.pk}.{self.reference}@{domain}>"
        return f"<order-email-{self.pk}.{self.order_id}@{domain}>"
