"""Admin for returns: each return with its lines and refund, read-only.

A return changes only through its services (so every step writes its event, ledger
rows and email); the one admin action, approving requested returns, calls the service.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.returns.models import ReturnLine, ReturnRequest
from apps.returns.services import return_approve
from utils.admin import ReadOnlyAdmin, ReadOnlyInline
from utils.errors import ApplicationError

_LINE_FIELDS = (
    "line",
    "quantity",
    "quantity_received",
    "restock",
    "restock_warehouse",
    "refund_amount",
)


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = _LINE_FIELDS
    readonly_fields = _LINE_FIELDS


@admin.register(ReturnRequest)
class ReturnRequestAdmin(ReadOnlyAdmin):
    list_display = ["number", "order", "status", "reason", "created_at", "received_at"]
    list_filter = ["status", "reason", "created_at"]
    search_fields = ["number", "order__number", "order__email"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    list_select_related = ["order"]
    inlines = [ReturnLineInline]
    actions = ["approve"]
    fields = (
        "number",
        "order",
        "status",
        "reason",
        "note",
        "staff_note",
        "created_by",
        "refund",
        "created_at",
        "approved_at",
        "rejected_at",
        "received_at",
        "refunded_at",
    )
    readonly_fields = fields

    @admin.action(description="Approve the selected requested returns")
    def approve(self, request: HttpRequest, queryset: QuerySet[ReturnRequest]) -> None:
        approved, refused = 0, []
        for return_request in queryset.order_by("pk"):
            try:
                return_approve(return_request=return_request, actor=request.user)  # type: ignore[arg-type]
            except ApplicationError as exc:
                refused.append(f"{return_request.number}: {exc.message}")
            else:
                approved += 1
        if approved:
            self.message_user(request, f"{approved} return(s) approved.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)
