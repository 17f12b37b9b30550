"""Invariants every nothing-lost test checks at its end."""

from __future__ import annotations

from django.db.models import Count, Q, Sum


def assert_shop_invariants() -> None:
    """Stock equals its ledger (per variant and warehouse) and is never negative; each
    order is paid with exactly one captured payment (and one confirmation email) or not
    paid with none."""
    from apps.catalog.models import Stock, StockMovement
    from apps.notifications.models import EmailLog
    from apps.orders.models import Order
    from apps.payments.models import Payment

    ledger = {
        (variant_id, warehouse_id): total
        for variant_id, warehouse_id, total in StockMovement.objects.values(
            "variant_id", "warehouse_id"
        )
        .annotate(total=Sum("quantity"))
        .values_list("variant_id", "warehouse_id", "total")
    }
    for key in Stock.objects.values_list("variant_id", "warehouse_id", "on_hand"):
        variant_id, warehouse_id, on_hand = key
        expected = ledger.get((variant_id, warehouse_id), 0)
        assert on_hand >= 0, f"variant {variant_id} has negative stock {on_hand}"
        assert on_hand == expected, (
            f"variant {variant_id} warehouse {warehouse_id}: on_hand {on_hand} != ledger {expected}"
        )

    orders = Order.objects.annotate(
        captured=Count("payments", filter=Q(payments__status=Payment.Status.CAPTURED)),
    )
    confirmations = dict(
        EmailLog.objects.filter(kind=EmailLog.Kind.ORDER_CONFIRMATION)
        .values("order_id")
        .annotate(n=Count("id"))
        .values_list("order_id", "n")
    )
    for order in orders:
        if order.status in (Order.Status.PAID, Order.Status.FULFILLED):
            assert order.captured == 1, (
                f"{order.number} is {order.status} with {order.captured} charges"
            )
            assert confirmations.get(order.pk) == 1, f"{order.number}: confirmation emails != 1"
        elif order.status in (Order.Status.PENDING_PAYMENT,):
            assert order.captured == 0, f"{order.number} pending but charged"
            assert order.pk not in confirmations
        elif order.status == Order.Status.CANCELLED and order.captured:
            # Paid then cancelled: the money must be on its way back.
            assert order.refunds.exists(), f"{order.number} cancelled with a charge and no refund"
