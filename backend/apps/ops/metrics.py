"""Prometheus metrics: HTTP requests by route and status, and shop gauges read at scrape time.

``PrometheusMiddleware`` counts every request by method, resolver route pattern
(never the raw path: ids would explode the label space) and status, with a
latency histogram. Under gunicorn with several workers, set
``PROMETHEUS_MULTIPROC_DIR`` (an empty directory, before the processes start):
prometheus-client then keeps per-process values in files and the scrape sums
them. Without it the default in-process registry is used.

``ShopCollector`` computes gauges when scraped: orders by status, payments by
status, stored task results by name and state, webhook events and emails by
status, queue depths (broker read with a short timeout) and unresolved stock drifts.
What does not belong here: tracing (``utils.telemetry``).
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.notifications.models import EmailLog
from apps.ops import selectors, services
from apps.ops.broker import BrokerUnavailable
from apps.orders.models import Order
from apps.payments.models import Payment, WebhookEvent

logger = logging.getLogger(__name__)

UNMATCHED_ROUTE = "<unmatched>"
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

HTTP_REQUESTS = Counter(
    "storefront_http_requests",
    "HTTP requests answered, by method, route pattern and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "storefront_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route pattern.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def route_label(request: HttpRequest) -> str:
    """``/api/v1/orders/<pk>/`` for ``/api/v1/orders/3f2c.../``: the pattern, not the path."""
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    if not route:
        return UNMATCHED_ROUTE
    route = _GROUP.sub(r"<\1>", route)
    route = route.replace("^", "").replace("$", "").replace("\\", "").replace("/?", "/")
    return "/" + route.lstrip("/")


class PrometheusMiddleware:
    """Count and time every request. Outermost in ``MIDDLEWARE`` so it sees everything."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        try:
            method = request.method if request.method in METHODS else "other"
            route = route_label(request)
            HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
        except Exception:  # metrics must never fail a request
            logger.warning("could not record request metrics", exc_info=True)
        return response


# --- Scrape-time gauges -------------------------------------------------------------------


def _gauge(name: str, documentation: str, labels: list[str], rows: dict[Any, int]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for key, value in sorted(rows.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [str(key)], value)
    return family


class ShopCollector:
    """Gauges read from the database (and the broker) at scrape time."""

    def collect(self) -> Iterator[Metric]:
        def by_status(model: Any) -> dict[Any, int]:
            return dict(selectors.status_counts(model.objects.all()))

        yield _gauge("storefront_orders", "Orders by status.", ["status"], by_status(Order))
        yield _gauge(
            "storefront_payments", "Payments by status (outcome).", ["status"], by_status(Payment)
        )
        yield _gauge(
            "storefront_webhook_events",
            "Webhook events by status.",
            ["status"],
            by_status(WebhookEvent),
        )
        yield _gauge("storefront_emails", "Emails by status.", ["status"], by_status(EmailLog))
        yield _gauge(
            "storefront_payments_stuck",
            "Payments of orders awaiting payment with no activity for longer than the "
            "ops threshold (OPS_STUCK_PAYMENT_MINUTES), as on the ops overview.",
            [],
            {(): selectors.payment_stuck_list().count()},
        )
        tasks = {
            (row["name"], row["state"]): row["count"] for row in selectors.task_result_counts()
        }
        yield _gauge(
            "storefront_task_results",
            "Stored Celery task results by task name and state.",
            ["task", "state"],
            tasks,
        )
        yield _gauge(
            "storefront_stock_drifts_unresolved",
            "Variants whose stock disagrees with the ledger (last reconciliation).",
            [],
            {(): selectors.stock_drift_unresolved_count()},
        )
        yield from self._broker()

    @staticmethod
    def _broker() -> Iterator[Metric]:
        up = GaugeMetricFamily("storefront_broker_up", "1 if the broker answered this scrape.")
        try:
            stats = services.queue_stats()
        except BrokerUnavailable:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = {name: stat["depth"] for name, stat in stats.items()}
        yield _gauge("storefront_queue_depth", "Messages waiting per queue.", ["queue"], depth)
        ages = GaugeMetricFamily(
            "storefront_queue_oldest_message_age_seconds",
            "Age of the oldest waiting message per queue, where the broker allows.",
            labels=["queue"],
        )
        for name, stat in sorted(stats.items()):
            if stat["oldest_age_seconds"] is not None:
                ages.add_metric([name], stat["oldest_age_seconds"])
        yield ages


def render_latest(accept: str = "") -> tuple[bytes, str]:
    """The scrape body and its content type for the request's ``Accept`` header.

    prometheus-client's own choice: OpenMetrics when ``application/openmetrics-text``
    is asked for (as Prometheus does), else the Prometheus text format 0.0.4.
    """
    encoder, content_type = choose_encoder(accept)
    registry = CollectorRegistry(auto_describe=False)
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc_dir:
        MultiProcessCollector(registry, path=multiproc_dir)
    else:
        registry.register(REGISTRY)
    registry.register(ShopCollector())
    return encoder(registry), content_type


# --- Access -------------------------------------------------------------------------------


class MetricsToken:
    """``request.auth`` when the scrape presented the configured ``METRICS_TOKEN``."""


METRICS_TOKEN_AUTH = MetricsToken()


class MetricsTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <METRICS_TOKEN>``; anything else is left to JWT/session."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, MetricsToken] | None:
        token = settings.METRICS_TOKEN
        parts = get_authorization_header(request).split()
        if not token or len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        if hmac.compare_digest(parts[1], token.encode("utf-8")):
            return AnonymousUser(), METRICS_TOKEN_AUTH
        return None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="metrics"'


class IsStaffOrMetricsToken(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if request.auth is METRICS_TOKEN_AUTH:
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)
