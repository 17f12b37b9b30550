"""Writes for orders: checkout (in ``apps.orders.checkout``), cancel, expire, fulfil
(parcels in ``apps.orders.fulfilments``).

Each function is one transaction. The order is re-read under ``select_for_update``
and its status changed only through ``order_transition``. Lock order: order, then
payment/refund (inside ``refund_create``) or the voucher (its use given back), then
stock. Emails are queued as ``EmailLog`` rows in the same transaction and sent after commit.
What does not belong here: capture, refunds and webhooks (``apps.payments``).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.models import StockMovement
from apps.catalog.stock import stock_apply
from apps.notifications.models import EmailLog
from apps.notifications.services import email_enqueue
from apps.orders.allocations import allocations_give_back
from apps.orders.checkout import CheckoutResult, order_checkout
from apps.orders.fulfilments import order_fulfil_all
from apps.orders.models import Order, OrderEvent
from apps.orders.transitions import actor_kind, order_transition
from apps.pricing.services import voucher_release

__all__ = [
    "CheckoutResult",
    "order_cancel",
    "order_checkout",
    "order_expire",
    "order_expire_overdue",
    "order_fulfil",
]

logger = logging.getLogger(__name__)

S = Order.Status


def order_cancel(*, order: Order, actor: User | None, reason: str = "") -> Order:
    """Cancel an order that is not fulfilled yet: stock released, a paid order refunded.

    ``pending_payment`` and ``paid`` may be cancelled (by the customer or staff);
    anything else is 409 ``invalid_state``. A paid order gets a full refund started
    (``refund_create``, without restock: the release here gives the stock back).
    """
    kind = actor_kind(actor)
    by = "shop" if kind == OrderEvent.ActorKind.STAFF else "customer"
    note = reason or f"Cancelled by the {by}."
    with transaction.atomic():
        locked = _lock(order)
        was_paid = locked.status == S.PAID
        order_transition(
            order=locked, to_status=S.CANCELLED, actor=actor, actor_kind=kind, note=note
        )
        if was_paid:
            _refund_start(order=locked, actor=actor, reason=note)
        else:
            _voucher_give_back(locked)
        _stock_release(order=locked, actor=actor)
        email_enqueue(order=locked, kind=EmailLog.Kind.ORDER_CANCELLED)
    return locked


def order_expire(*, order_id: Any) -> bool:
    """Cancel a ``pending_payment`` order past its payment deadline; False if not due.

    Called by the payment-deadline sweep; safe to call twice (the second does nothing).
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.status != S.PENDING_PAYMENT:
            return False
        if order.payment_deadline > timezone.now():
            return False
        order_transition(
            order=order,
            to_status=S.CANCELLED,
            actor_kind=OrderEvent.ActorKind.SYSTEM,
            note="Not paid before the payment deadline.",
        )
        _voucher_give_back(order)
        _stock_release(order=order, actor=None)
        email_enqueue(order=order, kind=EmailLog.Kind.ORDER_CANCELLED)
    return True


def order_fulfil(*, order: Order, actor: User | None, carrier: str, tracking_number: str) -> Order:
    """Ship everything left of a paid (or partially refunded or fulfilled) order: one
    shipped fulfilment per warehouse holding its units (a staff action: the view's
    permission refuses anyone else). See ``apps.orders.fulfilments.order_fulfil_all``."""
    return order_fulfil_all(
        order=order, actor=actor, carrier=carrier, tracking_number=tracking_number
    )


def _lock(order: Order) -> Order:
    """The order re-read under a row lock (its status may have changed meanwhile)."""
    return Order.objects.select_for_update().get(pk=order.pk)


def _voucher_give_back(order: Order) -> None:
    """An order cancelled before payment gives its voucher use back (a paid one keeps it:
    the customer was charged with the discount, and a refund does not re-open the code)."""
    if order.voucher_code:
        voucher_release(order=order)


def _stock_release(*, order: Order, actor: User | None) -> None:
    """Give back what the order took to the warehouses it came from, through ``release``
    movements in the ledger."""
    changes = allocations_give_back(order=order)
    stock_apply(
        changes=changes,
        reason=StockMovement.Reason.RELEASE,
        order=order,
        actor=actor,
        note=f"Order {order.number} cancelled.",
    )


def _refund_start(*, order: Order, actor: User | None, reason: str) -> None:
    # Imported here: apps.payments imports apps.orders at module level, so orders reaches
    # payments only from inside a function (orders does use payments: capture, refunds).
    from apps.payments.services import refund_create

    refund_create(order=order, amount=None, restock=False, reason=reason, actor=actor)


def order_expire_overdue(*, limit: int = 200) -> list[str]:
    """Cancel ``pending_payment`` orders whose deadline has passed; return their ids.

    The payment-deadline sweep (``order_expire_sweep_task``): at most ``limit`` per
    run, claimed with ``skip_locked``, one transaction per order so that one failure
    does not hold back the others.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Order.objects.select_for_update(skip_locked=True)
            .filter(status=S.PENDING_PAYMENT, payment_deadline__lt=now)
            .order_by("payment_deadline")
            .values_list("pk", flat=True)[:limit]
        )
    cancelled: list[str] = []
    for order_id in ids:
        try:
            if order_expire(order_id=order_id):
                cancelled.append(str(order_id))
        except Exception:
            logger.exception("could not cancel expired order %s", order_id)
    if cancelled:
        logger.info("deadline sweep cancelled %d orders", len(cancelled))
    return cancelled


_ADDRESS_KEPT = ("country",)  # where the goods went decides the tax: a financial fact


def _address_scrub(address: Any) -> Any:
    if not isinstance(address, dict):
        return address
    return {key: (value if key in _ADDRESS_KEPT else "") for key, value in address.items()}


def orders_anonymise_for_user(*, user: User) -> int:
    """Detach a deleted account's orders and erase the personal data on them.

    Kept (financial records): number, status, amounts, currency, lines, payments,
    refunds, events and the destination country. Erased: the link to the user, the
    email (a placeholder that cannot receive mail) and every other address field.
    Returns how many orders were changed. Runs in the caller's transaction.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("orders_anonymise_for_user() must run inside transaction.atomic()")
    orders = list(Order.objects.select_for_update().filter(user=user).order_by("pk"))
    for order in orders:
        order.user = None
        order.email = f"deleted-{order.pk.hex[:16]}@deleted.invalid"
        order.shipping_address = _address_scrub(order.shipping_address)
        order.billing_address = _address_scrub(order.billing_address)
    Order.objects.bulk_update(orders, ["user", "email", "shipping_address", "billing_address"])
    return len(orders)
