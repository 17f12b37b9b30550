"""apps.orders.transitions called directly: the table of moves, stamps and events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.accounts.factories import UserFactory
from apps.orders.factories import OrderFactory
from apps.orders.models import Order, OrderEvent
from apps.orders.transitions import (
    ALLOWED,
    can_transition,
    order_created_record,
    order_event_record,
    order_transition,
)
from utils.errors import InvalidStateError

pytestmark = pytest.mark.django_db
S = Order.Status


def test_every_status_has_a_row_and_the_final_ones_allow_nothing() -> None:
    assert set(ALLOWED) == set(S.values)
    assert ALLOWED[S.CANCELLED] == frozenset()
    assert ALLOWED[S.REFUNDED] == frozenset()
    order = OrderFactory.build(status=S.PENDING_PAYMENT)
    assert can_transition(order, S.PAID)
    assert not can_transition(order, S.FULFILLED)


def test_an_allowed_move_saves_the_status_stamps_the_time_and_records_the_event() -> None:
    staff = UserFactory.create(is_staff=True)
    order = OrderFactory.create(status=S.PAID)
    with transaction.atomic():
        event = order_transition(
            order=order, to_status=S.CANCELLED, actor=staff, actor_kind="staff", note="x" * 600
        )
    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert order.cancelled_at is not None
    assert (event.from_status, event.to_status, event.actor, event.actor_kind) == (
        S.PAID,
        S.CANCELLED,
        staff,
        "staff",
    )
    assert len(event.note) == 500


def test_a_move_not_in_the_table_is_refused_and_changes_nothing() -> None:
    order = OrderFactory.create(status=S.PENDING_PAYMENT)
    with pytest.raises(InvalidStateError) as refused, transaction.atomic():
        order_transition(order=order, to_status=S.FULFILLED)
    assert refused.value.details == {
        "status": S.PENDING_PAYMENT,
        "requested": S.FULFILLED,
        "allowed": sorted(ALLOWED[S.PENDING_PAYMENT]),
    }
    assert Order.objects.get(pk=order.pk).status == S.PENDING_PAYMENT
    assert not OrderEvent.objects.filter(order=order).exists()


def test_a_stamp_already_set_is_kept() -> None:
    earlier = timezone.now() - timedelta(days=1)
    order = OrderFactory.create(status=S.PENDING_PAYMENT, paid_at=earlier)
    with transaction.atomic():
        order_transition(order=order, to_status=S.PAID)
    assert Order.objects.get(pk=order.pk).paid_at == earlier


def test_created_and_status_keeping_events() -> None:
    order = OrderFactory.create(status=S.CANCELLED)
    with transaction.atomic():
        created = order_created_record(order=order)
    kept = order_event_record(order=order, note="Refund of a cancelled order.")
    assert (created.from_status, created.to_status, created.actor_kind) == (
        "",
        S.CANCELLED,
        "customer",
    )
    assert (kept.from_status, kept.to_status, kept.actor_kind) == (
        S.CANCELLED,
        S.CANCELLED,
        "system",
    )
    assert Order.objects.get(pk=order.pk).status == S.CANCELLED
