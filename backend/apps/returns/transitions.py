"""The one function that moves a return, and the table of allowed moves.

Callers lock the order, then the return (``select_for_update``, in that order) inside
``transaction.atomic()`` and call ``return_transition``: a move the table does not
allow is a 409 ``invalid_state`` (nothing written); an allowed one stamps its time and
writes an ``OrderEvent`` on the order ("Return SO-1-R1: requested -> approved").
The order's own status does not move here (a refund moves it, in apps.payments).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.orders.models import OrderEvent
from apps.orders.transitions import order_event_record
from apps.returns.models import ReturnRequest
from utils.errors import InvalidStateError

R = ReturnRequest.Status

ALLOWED: dict[str, frozenset[str]] = {  # from status -> statuses it may become
    # The customer (or staff for them) may withdraw it while nothing has arrived.
    R.REQUESTED: frozenset({R.APPROVED, R.REJECTED, R.CANCELLED}),
    # Approved but never sent back (or not what was agreed): staff may still reject it;
    # ``received`` is the only step that records arrived units, so until then the
    # customer may still cancel (keeping the goods).
    R.APPROVED: frozenset({R.RECEIVED, R.REJECTED, R.CANCELLED}),
    R.RECEIVED: frozenset({R.REFUNDED}),
    R.REJECTED: frozenset(),
    R.REFUNDED: frozenset(),
    R.CANCELLED: frozenset(),
}

# Units of returns in these statuses are promised back: no other return may ask for them.
# (A received return's units are counted in OrderLine.quantity_returned instead.)
OPEN_STATUSES = (R.REQUESTED, R.APPROVED)

_TIMESTAMPS: dict[str, str] = {
    R.APPROVED: "approved_at",
    R.REJECTED: "rejected_at",
    R.RECEIVED: "received_at",
    R.REFUNDED: "refunded_at",
    R.CANCELLED: "cancelled_at",
}


def return_transition_check(*, return_request: ReturnRequest, to_status: str) -> None:
    """Raise the 409 ``invalid_state`` of a move the table does not allow (writes nothing),
    so a service can refuse before it validates the rest of its input."""
    from_status = return_request.status
    if to_status not in ALLOWED.get(from_status, frozenset()):
        raise InvalidStateError.transition(
            "A return", from_status, to_status, ALLOWED.get(from_status, frozenset())
        )


def return_transition(
    *,
    return_request: ReturnRequest,
    to_status: str,
    actor: User | None,
    actor_kind: str,
    note: str = "",
    extra_fields: list[str] | None = None,
) -> OrderEvent:
    """Move ``return_request`` to ``to_status`` or raise ``InvalidStateError``; record it.

    ``extra_fields`` names other fields the caller changed that are saved in the same
    UPDATE (``staff_note`` on rejection, ``refund`` on refund).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("return_transition() must run inside transaction.atomic()")
    return_transition_check(return_request=return_request, to_status=to_status)
    from_status = return_request.status
    return_request.status = to_status
    stamp = _TIMESTAMPS[to_status]
    setattr(return_request, stamp, timezone.now())
    return_request.save(update_fields=["status", stamp, "updated_at", *(extra_fields or [])])
    text = f"Return {return_request.number}: {from_status} -> {to_status}."
    return order_event_record(
        order=return_request.order,
        note=f"{text} {note}".strip(),
        actor=actor,
        actor_kind=actor_kind,
    )
