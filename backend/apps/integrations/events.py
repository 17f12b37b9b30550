"""What each outbound event says: the dispatch table of payloads, and order status -> event.

Payloads are built only when some endpoint subscribes to the type (callers pass a
function, not a dict), so a shop without webhooks pays nothing for them. Money is a
string with its currency, as everywhere in the API.
What does not belong here: rows, HTTP, signing (services and transport).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apps.integrations.models import EventType
from utils.decimal_utils import to_str

# The order statuses whose arrival is an outbound event (order.created is recorded apart).
STATUS_EVENTS: dict[str, str] = {
    "paid": EventType.ORDER_PAID,
    "cancelled": EventType.ORDER_CANCELLED,
    "fulfilled": EventType.ORDER_FULFILLED,
    "partially_fulfilled": EventType.ORDER_FULFILLED,
    "refunded": EventType.ORDER_REFUNDED,
    "partially_refunded": EventType.ORDER_REFUNDED,
}


def _money(value: Any) -> str:
    # An order just built in memory may still hold a field's int default (refunded_total=0).
    return to_str(value if isinstance(value, Decimal) else Decimal(str(value)))


def order_payload(order: Any) -> dict[str, Any]:
    """The order as a receiver needs it to act (ship, invoice, sync): lines included."""
    return {
        "order": {
            "id": str(order.id),
            "number": order.number,
            "status": order.status,
            "email": order.email,
            "currency": order.currency,
            "subtotal": _money(order.subtotal),
            "shipping_total": _money(order.shipping_total),
            "total": _money(order.total),
            "refunded_total": _money(order.refunded_total),
            "shipping_method": order.shipping_method,
            "shipping_address": order.shipping_address,
            "carrier": order.carrier,
            "tracking_number": order.tracking_number,
            "created_at": order.created_at.isoformat() if order.created_at else None,
            "lines": [
                {
                    "sku": line.sku,
                    "product_name": line.product_name,
                    "variant_name": line.variant_name,
                    "quantity": line.quantity,
                    "unit_price": _money(line.unit_price),
                    "line_total": _money(line.line_total),
                }
                for line in order.lines.all()
            ],
        }
    }


def stock_low_payload(*, variant_id: int, sku: str, on_hand: int, threshold: int) -> dict[str, Any]:
    return {
        "variant": {"id": variant_id, "sku": sku},
        "on_hand": on_hand,
        "threshold": threshold,
    }
