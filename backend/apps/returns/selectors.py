"""Reads of returns, each with the rows its answer shows fetched up front, so a list
costs the same number of queries for 1 line or 20 (asserted in test_returns_api.py)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet, Sum

from apps.orders.models import Order
from apps.returns.models import ReturnLine, ReturnRequest
from utils.errors import NotFoundError

R = ReturnRequest.Status

# What ops still have to do something about: look at a request, or refund a parcel.
WAITING_STATUSES = (R.REQUESTED, R.RECEIVED)


def _with_lines(queryset: QuerySet[ReturnRequest]) -> QuerySet[ReturnRequest]:
    lines = ReturnLine.objects.select_related("line", "restock_warehouse").order_by("pk")
    return queryset.select_related("refund", "order").prefetch_related(
        Prefetch("lines", queryset=lines)
    )


def return_list_for_order(*, order: Order) -> QuerySet[ReturnRequest]:
    """The order's returns, oldest first (access to the order is the caller's check)."""
    return _with_lines(ReturnRequest.objects.filter(order=order)).order_by("created_at", "pk")


def return_list() -> QuerySet[ReturnRequest]:
    """Every return, newest first (staff)."""
    return _with_lines(ReturnRequest.objects.all()).order_by("-created_at", "-pk")


def return_get(*, number: str) -> ReturnRequest:
    """One return by its number, with its lines, or ``NotFoundError``."""
    found = _with_lines(ReturnRequest.objects.filter(number=number)).first()
    if found is None:
        raise NotFoundError("Return not found.")
    return found


def return_get_for_order(*, order: Order, number: str) -> ReturnRequest:
    """One of ``order``'s returns by its number, or ``NotFoundError`` (another order's
    return is not found either: access to the order is the caller's check)."""
    found = _with_lines(ReturnRequest.objects.filter(order=order, number=number)).first()
    if found is None:
        raise NotFoundError("Return not found.")
    return found


def return_waiting_list() -> QuerySet[ReturnRequest]:
    """Returns waiting on staff (requested, or received and not refunded), oldest first,
    with their units counted (``units``, ``units_received``): one query for the ops page."""
    return (
        ReturnRequest.objects.filter(status__in=WAITING_STATUSES)
        .select_related("order", "refund")
        .annotate(units=Sum("lines__quantity"), units_received=Sum("lines__quantity_received"))
        .order_by("created_at", "pk")
    )
