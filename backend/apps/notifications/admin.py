"""Admin for the email log: what the shop sent (or failed to send) to whom. Read-only."""

from __future__ import annotations

from django.contrib import admin

from apps.notifications.models import EmailLog
from utils.admin import ReadOnlyAdmin


@admin.register(EmailLog)
class EmailLogAdmin(ReadOnlyAdmin):
    list_display = [
        "recipient",
        "kind",
        "status",
        "order_number",
        "attempts",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "kind", "created_at"]
    search_fields = ["recipient", "order__number", "reference"]
    list_select_related = ["order"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "order",
        "kind",
        "reference",
        "recipient",
        "status",
        "attempts",
        "last_error",
        "sent_at",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="order", ordering="order__number")
    def order_number(self, obj: EmailLog) -> str:
        return obj.order.number if obj.order is not None else "-"  # an account email
