"""Admin for ops records: worker probes, queue samples, stock drifts and task re-sends.

All read-only, apart from marking a stock drift resolved. Celery's task results
have their own admin (django-celery-results).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.ops.models import QueueSample, StockDrift, TaskRetry, WorkerProbe
from utils.admin import ReadOnlyAdmin


@admin.register(WorkerProbe)
class WorkerProbeAdmin(ReadOnlyAdmin):
    list_display = ["id", "queue", "created_at", "completed_at", "worker", "request_trace_id"]
    list_filter = ["queue"]
    search_fields = ["id", "worker", "request_trace_id", "task_trace_id"]
    date_hierarchy = "created_at"


@admin.register(QueueSample)
class QueueSampleAdmin(ReadOnlyAdmin):
    list_display = ["queue", "depth", "sampled_at"]
    list_filter = ["queue"]
    date_hierarchy = "sampled_at"


@admin.register(TaskRetry)
class TaskRetryAdmin(ReadOnlyAdmin):
    list_display = [
        "task_name",
        "original_task_id",
        "retry_task_id",
        "requested_by",
        "requested_at",
    ]
    list_filter = ["task_name"]
    search_fields = ["original_task_id", "retry_task_id", "task_name"]
    list_select_related = ["requested_by"]
    date_hierarchy = "requested_at"


@admin.register(StockDrift)
class StockDriftAdmin(admin.ModelAdmin):
    list_display = [
        "variant",
        "on_hand",
        "ledger_sum",
        "difference",
        "held_by_open_orders",
        "detected_at",
        "run_id",
        "resolved",
    ]
    list_filter = ["resolved", "detected_at"]
    search_fields = ["variant__sku", "run_id"]
    list_select_related = ["variant"]
    readonly_fields = [
        "variant",
        "on_hand",
        "ledger_sum",
        "held_by_open_orders",
        "run_id",
        "detected_at",
    ]
    fields = [*readonly_fields, "resolved"]
    actions = ["mark_resolved"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="on hand - ledger")
    def difference(self, obj: StockDrift) -> int:
        return obj.difference

    @admin.action(description="Mark selected drifts resolved")
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[StockDrift]) -> None:
        count = queryset.filter(resolved=False).update(resolved=True)
        self.message_user(request, f"{count} drift(s) marked resolved.", messages.SUCCESS)
