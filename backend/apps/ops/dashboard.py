"""The ops dashboard page (``/ops/``): the overview at a glance, for staff, refreshing itself.

A plain Django view: the admin's session login (``staff_member_required``
redirects to it). The page is rendered on the server from the same data the
ops API returns; ``static/ops/dashboard.js`` then polls that API with the
session cookie and posts retries and replays with the CSRF token. Everything
the page loads is served by the project (a strict Content-Security-Policy says so).
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from apps.integrations import selectors as integration_selectors
from apps.integrations.serializers import DeliveryOutputSerializer, EndpointOutputSerializer
from apps.ops import selectors
from apps.ops.overview import overview_build
from apps.ops.serializers import (
    StuckPaymentOutputSerializer,
    TaskResultOutputSerializer,
    UnshippedFulfilmentOutputSerializer,
    WebhookEventOutputSerializer,
)
from apps.payments.models import WebhookEvent
from apps.returns.selectors import return_waiting_list
from utils.errors import require_get

LIST_SIZE = 20
DEFAULT_REFRESH_SECONDS = 5
SPARK_WIDTH = 120
SPARK_HEIGHT = 28
CHART_WIDTH = 360
CHART_HEIGHT = 80
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def sparkline_points(
    values: list[int], *, width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT
) -> str:
    """SVG polyline points for these values, scaled to the box (same maths as the page's JS)."""
    if not values:
        return ""
    if len(values) == 1:
        values = [values[0], values[0]]
    top = max(max(values), 1)
    step = width / (len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - 1 - (value / top) * (height - 2):.1f}"
        for i, value in enumerate(values)
    )


def chart_segments(
    values: list[int | None], *, top: int, width: int = CHART_WIDTH, height: int = CHART_HEIGHT
) -> list[str]:
    """SVG polyline points per unbroken run of values (``None`` is a gap), on a shared scale.

    The page's JS draws the same thing from the overview API (``chartSegments``).
    """
    if not values:
        return []
    step = width / max(len(values) - 1, 1)
    top = max(top, 1)
    segments: list[str] = []
    current: list[str] = []
    for i, value in enumerate(values):
        if value is None:
            if current:
                segments.append(" ".join(current))
            current = []
            continue
        current.append(f"{i * step:.1f},{height - 1 - (value / top) * (height - 2):.1f}")
    if current:
        segments.append(" ".join(current))
    return [seg if " " in seg else _dash(seg, width) for seg in segments]


def _dash(point: str, width: int) -> str:
    """A lone point as a short flat line (6 px), so it can be seen."""
    x, y = (float(v) for v in point.split(","))
    return f"{max(x - 3, 0):.1f},{y:.1f} {min(x + 3, width):.1f},{y:.1f}"


def _chart(
    title: str, chart_id: str, series: dict[str, list[int | None]], *, level: bool = False
) -> dict[str, Any]:
    """``level``: the series are readings (show the latest), else counts (show the sum)."""
    top = max([v for values in series.values() for v in values if v is not None] or [0])
    return {
        "title": title,
        "id": chart_id,
        "top": top,
        "summary": "latest" if level else "last hour",
        "lines": [
            {
                "name": name,
                "css": name.lower().replace("_", "-"),
                "segments": chart_segments(values, top=top),
                "summary": (
                    next((v for v in reversed(values) if v is not None), "\N{EN DASH}")
                    if level
                    else sum(v for v in values if v is not None)
                ),
            }
            for name, values in series.items()
        ],
    }


def _charts(overview: dict[str, Any]) -> list[dict[str, Any]]:
    activity = overview["activity"]
    empty: list[int | None] = [None] * activity["window_minutes"]
    depth = {
        name: activity["queue_depth"].get(name, empty)
        for name in overview["queue_history"]["queues"]
    }
    return [
        _chart("Checkouts per minute", "chart-checkouts", {"checkouts": activity["checkouts"]}),
        _chart("Task outcomes per minute", "chart-tasks", activity["task_outcomes"]),
        _chart("Queue depth (minute samples)", "chart-queues", depth, level=True),
    ]


def _refresh_seconds(request: HttpRequest) -> int:
    try:
        value = int(request.GET.get("refresh", DEFAULT_REFRESH_SECONDS))
    except ValueError:
        value = DEFAULT_REFRESH_SECONDS
    return min(max(value, 1), 300)


def _queues(overview: dict[str, Any]) -> list[dict[str, Any]]:
    """Each configured queue with its live stats (if any) and its sparkline of the last hour."""
    live = {item["name"]: item for item in overview["queues"].get("items", [])}
    series = overview["queue_history"]["series"]
    rows = []
    for name in overview["queue_history"]["queues"]:
        history = [point["depth"] for point in series.get(name, [])]
        stat = live.get(name)
        if stat is not None:
            history.append(stat["depth"])
        rows.append({"name": name, "stat": stat, "points": sparkline_points(history)})
    return rows


def _context(request: HttpRequest) -> dict[str, Any]:
    overview = overview_build()
    unprocessed = [WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED]
    failed = selectors.task_result_list().filter(status="FAILURE")[:LIST_SIZE]
    webhooks = selectors.webhook_event_list().filter(status__in=unprocessed)[:LIST_SIZE]
    stuck = selectors.payment_stuck_list()[:LIST_SIZE]
    deliveries = integration_selectors.deliveries_needing_attention()[:LIST_SIZE]
    disabled = integration_selectors.endpoints_disabled()[:LIST_SIZE]
    unshipped = selectors.fulfilment_unshipped_list()[:LIST_SIZE]
    return {
        "overview": overview,
        "queues": _queues(overview),
        "charts": _charts(overview),
        # Lists pulled out here: in a template, ``dict.items`` may mean the method.
        "workers": overview["workers"].get("items", []),
        "outcomes": overview["tasks_last_hour"]["items"],
        "drifts": overview["stock_drifts"]["items"],
        "failed_tasks": TaskResultOutputSerializer(failed, many=True).data,
        "webhook_events": WebhookEventOutputSerializer(webhooks, many=True).data,
        "stuck_payments": StuckPaymentOutputSerializer(stuck, many=True).data,
        # Outbound webhooks (apps.integrations): replay is POST .../replay/ on the API.
        "deliveries": DeliveryOutputSerializer(deliveries, many=True).data,
        "disabled_endpoints": EndpointOutputSerializer(disabled, many=True).data,
        # Parcels to chase: ship or cancel them with POST /orders/{id}/fulfilments/{n}/...
        "unshipped_fulfilments": UnshippedFulfilmentOutputSerializer(unshipped, many=True).data,
        # Returns waiting on staff (apps.returns; its own card, returns/ops_waiting.html).
        "returns_waiting": list(return_waiting_list()[:LIST_SIZE]),
        "refresh_seconds": _refresh_seconds(request),
        "urls": {
            "overview": reverse("ops-overview-list"),
            "tasks": reverse("ops-task-list"),
            "webhooks": reverse("ops-webhook-list"),
            "stuck": reverse("ops-payment-stuck"),
        },
        "list_size": LIST_SIZE,
        "spark": {"width": SPARK_WIDTH, "height": SPARK_HEIGHT},
        "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT},
    }


@never_cache
@require_get
@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    response = render(request, "ops/dashboard.html", _context(request))
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
