"""Row locks the payment services share: order first, then payment (the fixed lock order).

Only the locking: what is done under the locks stays with each service.
"""

from __future__ import annotations

from typing import Any

from apps.orders.models import Order
from apps.payments.models import Payment


def payment_lock_with_order(*, payment_id: Any) -> tuple[Order, Payment] | None:
    """Lock the payment's order, then the payment; ``None`` if there is no such payment.

    Call inside ``transaction.atomic()``. The order id is read without a lock first so that
    the order is always locked before its payment, as everywhere else.
    """
    order_id = Payment.objects.filter(pk=payment_id).values_list("order_id", flat=True).first()
    if order_id is None:
        return None
    order = Order.objects.select_for_update().get(pk=order_id)
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    return order, payment
