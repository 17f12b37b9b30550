"""The one function that changes an order's status, and the table of allowed moves.

Callers lock the order (``select_for_update``) inside ``transaction.atomic()``
and then call ``order_transition``; it refuses a move that is not allowed with
409 ``invalid_state`` and writes an ``OrderEvent`` (who, from, to, trace id), and
the outbound webhook event of the move (``order.paid`` ...) in the same transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.integrations.events import STATUS_EVENTS, order_payload
from apps.integrations.models import EventType
from apps.integrations.services import event_emit
from apps.orders.models import Order, OrderEvent
from utils.errors import InvalidStateError
from utils.telemetry import current_trace_id

S = Order.Status

ALLOWED: dict[str, frozenset[str]] = {  # from status -> statuses it may become
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset(
        {S.PARTIALLY_FULFILLED, S.FULFILLED, S.CANCELLED, S.REFUNDED, S.PARTIALLY_REFUNDED}
    ),
    # A pending fulfilment cancelled moves the order back (fulfilled -> partially, or to paid).
    S.PARTIALLY_FULFILLED: frozenset({S.FULFILLED, S.PAID, S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset(
        {S.PARTIALLY_FULFILLED, S.FULFILLED, S.REFUNDED, S.PARTIALLY_REFUNDED}
    ),
    # Cancelling the pending fulfilment(s) that made it fulfilled: back to partially
    # fulfilled, or to paid / partially refunded when nothing is left in a fulfilment.
    S.FULFILLED: frozenset({S.PARTIALLY_FULFILLED, S.PAID, S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}

_TIMESTAMPS: dict[str, str] = {
    S.PAID: "paid_at",
    S.FULFILLED: "fulfilled_at",
    S.CANCELLED: "cancelled_at",
}


def actor_kind(actor: User | None) -> str:
    """How a person acting on an order is recorded: ``staff``, or ``customer`` (a guest too).

    Work nobody asked for in a request is ``system`` (sweeps) or ``provider`` (webhooks,
    captures): those callers name their kind themselves.
    """
    if actor is not None and actor.is_staff:
        return OrderEvent.ActorKind.STAFF
    return OrderEvent.ActorKind.CUSTOMER


def can_transition(order: Order, to_status: str) -> bool:
    return to_status in ALLOWED.get(order.status, frozenset())


def order_transition(
    *,
    order: Order,
    to_status: str,
    actor: User | None = None,
    actor_kind: str = OrderEvent.ActorKind.SYSTEM,
    note: str = "",
    extra_fields: list[str] | None = None,
) -> OrderEvent:
    """Move ``order`` to ``to_status`` or raise ``InvalidStateError``; record the event.

    ``extra_fields`` names other fields the caller changed on ``order`` that must
    be saved in the same UPDATE (e.g. ``carrier`` on fulfilment).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_transition() must run inside transaction.atomic()")
    from_status = order.status
    if not can_transition(order, to_status):
        raise InvalidStateError.transition(
            "An order", from_status, to_status, ALLOWED.get(from_status, frozenset())
        )
    order.status = to_status
    fields = ["status", "updated_at", *(extra_fields or [])]
    stamp = _TIMESTAMPS.get(to_status)
    if stamp and getattr(order, stamp) is None:
        setattr(order, stamp, timezone.now())
        fields.append(stamp)
    order.save(update_fields=fields)
    event = _event(order, from_status, actor=actor, actor_kind=actor_kind, note=note)
    outbound = STATUS_EVENTS.get(to_status)
    if outbound is not None:
        event_emit(event_type=outbound, payload=lambda: order_payload(order))
    return event


def order_created_record(
    *,
    order: Order,
    actor: User | None = None,
    actor_kind: str = OrderEvent.ActorKind.CUSTOMER,
    note: str = "",
) -> OrderEvent:
    """Record the first event of a new order ("" -> its initial status)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_created_record() must run inside transaction.atomic()")
    event = _event(order, "", actor=actor, actor_kind=actor_kind, note=note)
    event_emit(event_type=EventType.ORDER_CREATED, payload=lambda: order_payload(order))
    return event


def order_event_record(
    *,
    order: Order,
    note: str,
    actor: User | None = None,
    actor_kind: str = OrderEvent.ActorKind.SYSTEM,
) -> OrderEvent:
    """Record an event that keeps the status (e.g. a refund of a cancelled order)."""
    return _event(order, order.status, actor=actor, actor_kind=actor_kind, note=note)


def _event(
    order: Order, from_status: str, *, actor: User | None, actor_kind: str, note: str
) -> OrderEvent:
    """The one way an ``OrderEvent`` is written: to the order's (new) status, with the trace."""
    return OrderEvent.objects.create(
        order=order,
        from_status=from_status,
        to_status=order.status,
        actor=actor,
        actor_kind=actor_kind,
        note=note[:500],
        trace_id=current_trace_id(),
    )
