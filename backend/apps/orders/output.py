"""The order answer as plain dicts: what ``OrderOutputSerializer`` writes, without DRF's
per-field machinery (``bench/profile.md``, row "cart and order answers built by hand").

Checkout's answer and ``GET /orders/{id}/`` are ``order_output(order, ...)``, from the
objects the view already has (checkout passes the lines and payment it has just written,
the detail read has prefetched lines, payments and parcels): no query of its own beyond
the serializer's. The serializers in ``serializers.py`` stay the OpenAPI description of
the answer and the other order answers; ``test_output.py`` renders both for a range of
orders and checks they are the same bytes.

What does not belong here: reads (``selectors``), rules (``services``, ``checkout``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from apps.orders.models import Fulfilment, Order, OrderLine
from apps.payments.models import Payment
from utils.decimal_utils import to_str
from utils.serializers import datetime_output, rate_output

_ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postal_code", "country", "phone")


def _money(value: Any) -> str:
    # As ``MoneyField``: a model's default (0) is an int until the row is read back.
    return to_str(Decimal(value))


def order_output(
    order: Order,
    *,
    lines: Iterable[OrderLine] | None = None,
    payment: Payment | None = None,
    fulfilments: Iterable[Fulfilment] | None = None,
    access_token: str | None = None,
) -> dict[str, Any]:
    """``OrderOutputSerializer(order, context=...).data`` with the same context: ``lines``
    and ``payment`` just written (checkout: then no parcels), else the prefetched ones;
    ``access_token`` a guest's token, shown once."""
    if lines is None:
        parcels = order.fulfilments.all() if fulfilments is None else fulfilments
        fulfilment_list = [_fulfilment(parcel) for parcel in parcels]
        lines = order.lines.all()
    else:
        fulfilment_list = []  # checkout's answer: an order just written has no parcel yet
    if payment is None:
        payments = list(order.payments.all())  # newest first (Payment.Meta.ordering)
        payment = payments[0] if payments else None
    discounts = order.discounts
    return {
        "id": str(order.id),
        "number": str(order.number),
        "status": str(order.status),
        "email": str(order.email),
        "currency": str(order.currency),
        "lines": [_line(line) for line in lines],
        "subtotal": _money(order.subtotal),
        "discount": _money(order.discount_total),
        "shipping": _money(order.shipping_total),
        "tax": _money(order.tax_total),
        "total": _money(order.total),
        "prices_include_tax": bool(order.prices_include_tax),
        "voucher_code": str(order.voucher_code),
        "discounts": None if discounts is None else [_discount(item) for item in discounts],
        "refunded_total": _money(order.refunded_total),
        "shipping_method": str(order.shipping_method),
        "shipping_address": _address(order.shipping_address),
        "billing_address": _address(order.billing_address),
        "payment": None if payment is None else _payment(payment),
        "payment_deadline": datetime_output(order.payment_deadline),
        "paid_at": datetime_output(order.paid_at),
        "fulfilled_at": datetime_output(order.fulfilled_at),
        "cancelled_at": datetime_output(order.cancelled_at),
        "carrier": str(order.carrier),
        "tracking_number": str(order.tracking_number),
        "fulfilments": fulfilment_list,
        "created_at": datetime_output(order.created_at),
        "updated_at": datetime_output(order.updated_at),
        "access_token": str(access_token) if access_token else None,
    }


def _line(line: OrderLine) -> dict[str, Any]:
    return {
        "id": int(line.id),
        "variant_id": line.variant_id,
        "sku": str(line.sku),
        "name": str(line.product_name),
        "variant_name": str(line.variant_name),
        "unit_price": _money(line.unit_price),
        "undiscounted_unit_price": _money(line.undiscounted_unit_price),
        "quantity": int(line.quantity),
        "discount": _money(line.discount),
        "net": _money(line.net),
        "tax_rate": rate_output(line.tax_rate),
        "tax": _money(line.tax),
        "line_total": _money(line.line_total),
    }


def _discount(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": str(item["kind"]),
        "code": str(item["code"]),
        "name": str(item["name"]),
        "amount": _money(item["amount"]),
    }


def _address(address: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {name: None if address[name] is None else str(address[name]) for name in _ADDRESS_FIELDS}


def _payment(payment: Payment) -> dict[str, Any]:
    return {
        "id": str(payment.id),
        "provider": str(payment.provider),
        "status": str(payment.status),
        "amount": _money(payment.amount),
        "currency": str(payment.currency),
    }


def _fulfilment(parcel: Fulfilment) -> dict[str, Any]:
    return {
        "number": str(parcel.number),
        "status": str(parcel.status),
        "warehouse": str(parcel.warehouse.code),
        "carrier": str(parcel.carrier),
        "tracking_number": str(parcel.tracking_number),
        "tracking_url": str(parcel.tracking_url),
        "created_at": datetime_output(parcel.created_at),
        "shipped_at": datetime_output(parcel.shipped_at),
        "cancelled_at": datetime_output(parcel.cancelled_at),
        "lines": [
            {"line": int(item.line_id), "sku": str(item.line.sku), "quantity": int(item.quantity)}
            for item in parcel.lines.all()
        ],
    }
