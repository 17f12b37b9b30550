"""Admin: payments (by status), refunds, webhook events (payload read-only), sandbox ledger.

Everything a provider or a task wrote is read-only here: state changes go
through the services (refunds through the API), never through a form.
"""

from __future__ import annotations

from django.contrib import admin

from apps.payments.models import Payment, Refund, SandboxCharge, SandboxRefund, WebhookEvent
from utils.admin import ReadOnlyAdmin, ReadOnlyInline


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ["id", "kind", "amount", "currency", "status", "restock", "reason", "created_at"]
    readonly_fields = ["id", "kind", "amount", "currency", "status", "restock", "reason"]
    readonly_fields += ["created_at"]
    show_change_link = True


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "order",
        "provider",
        "status",
        "amount",
        "currency",
        "refunded_amount",
        "attempts",
        "failure_code",
        "created_at",
    ]
    list_filter = ["status", "provider", "failure_code"]
    search_fields = ["id", "order__number", "order__email", "provider_reference"]
    date_hierarchy = "created_at"
    list_select_related = ["order"]
    inlines = [RefundInline]
    # The customer's authentication secret is the customer's only (never shown here).
    exclude = ["client_secret"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ["id", "order", "kind", "amount", "currency", "status", "restock", "created_at"]
    # kind: external (made at the provider) and duplicate_charge (refunded automatically)
    # are what ops review.
    list_filter = ["kind", "status", "restock"]
    search_fields = ["id", "order__number", "payment__id", "provider_reference"]
    list_select_related = ["order"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "provider", "type", "status", "attempts", "received_at"]
    list_filter = ["status", "provider", "type"]
    search_fields = ["event_id", "last_error"]
    date_hierarchy = "received_at"


@admin.register(SandboxCharge)
class SandboxChargeAdmin(ReadOnlyAdmin):
    list_display = ["id", "token", "amount", "currency", "status", "calls", "created_at"]
    list_filter = ["status", "token"]
    search_fields = ["id", "idempotency_key"]


@admin.register(SandboxRefund)
class SandboxRefundAdmin(ReadOnlyAdmin):
    list_display = ["id", "charge", "amount", "currency", "created_at"]
    search_fields = ["id", "idempotency_key", "charge__id"]
