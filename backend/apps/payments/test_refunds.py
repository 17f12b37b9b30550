"""Refunds: staff only, never more than captured, restock rules, cancelled orders, retries."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from apps.catalog.factories import variant_create
from apps.catalog.models import Stock, StockMovement, Variant
from apps.catalog.stock import at_default, stock_apply
from apps.notifications.models import EmailLog
from apps.orders.factories import order_create
from apps.orders.models import Order, OrderEvent
from apps.orders.transitions import order_transition
from apps.payments.conftest import emails
from apps.payments.factories import latest_payment, order_paid
from apps.payments.models import Payment, Refund, SandboxRefund
from apps.payments.providers.base import PaymentProviderError, ProviderUnavailableError
from apps.payments.providers.sandbox import SandboxProvider
from apps.payments.services import refund_create
from apps.payments.tasks import refund_process_task

pytestmark = pytest.mark.django_db


def _url(order: Order) -> str:
    return f"/api/v1/orders/{order.pk}/refund/"


@pytest.fixture
def refund(staff_client: APIClient, django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """POST a refund as staff and run the refund task (and emails) after commit."""

    def post(order: Order, body: dict[str, Any], **headers: str) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return staff_client.post(_url(order), body, format="json", **headers)

    return post


@pytest.fixture
def two_lines() -> tuple[Variant, Variant]:
    return variant_create(sku="TEE-M", price="10.00"), variant_create(sku="MUG", price="5.00")


def _on_hand(variant: Variant) -> int:
    return Stock.objects.get(variant=variant).on_hand


def test_full_refund_with_restock_refunds_everything_and_restocks_every_line(
    refund: Callable[..., Any], two_lines: tuple[Variant, Variant]
) -> None:
    tee, mug = two_lines
    order = order_paid(lines=[(tee, 2), (mug, 1)])  # 25.00 + 2.50
    assert (_on_hand(tee), _on_hand(mug)) == (8, 9)
    response = refund(order, {"amount": None, "restock": True, "reason": "damaged"})
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["amount"], body["currency"], body["restock"]) == ("27.50", "EUR", True)
    row = Refund.objects.get()
    assert row.status == Refund.Status.SUCCEEDED
    assert row.provider_reference == SandboxRefund.objects.get().id
    payment = latest_payment(order)
    order.refresh_from_db()
    assert payment.refunded_amount == Decimal("27.50")
    assert order.refunded_total == Decimal("27.50")
    assert order.status == Order.Status.REFUNDED
    assert (_on_hand(tee), _on_hand(mug)) == (10, 10)
    restocks = StockMovement.objects.filter(order=order, reason="restock")
    assert sorted(restocks.values_list("quantity", flat=True)) == [1, 2]
    refund_mail = EmailLog.objects.get(order=order, kind="refund_issued")
    assert (refund_mail.reference, refund_mail.status) == (str(row.pk), "sent")
    event = OrderEvent.objects.get(order=order, to_status=Order.Status.REFUNDED)
    assert event.actor_kind == OrderEvent.ActorKind.STAFF
    assert event.actor is not None


def test_two_partial_refunds_summing_to_the_total_make_the_order_refunded(
    refund: Callable[..., Any],
) -> None:
    order = order_paid()  # 12.50
    assert refund(order, {"amount": "5.00", "reason": "late"}).status_code == 202
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert order.refunded_total == Decimal("5.00")
    assert refund(order, {"amount": "7.50"}).status_code == 202
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.refunded_total == Decimal("12.50")
    assert latest_payment(order).refunded_amount == Decimal("12.50")
    assert SandboxRefund.objects.count() == 2
    assert [kind for kind, _ in emails(order)].count("refund_issued") == 2
    # Nothing is left: a third refund is refused.
    response = refund(order, {"amount": "0.01"})
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_state"
    assert Refund.objects.count() == 2


def test_more_than_was_captured_is_a_400_with_the_figures(refund: Callable[..., Any]) -> None:
    order = order_paid()
    response = refund(order, {"amount": "12.51"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    assert "amount" in body["details"]
    assert body["details"]["refundable"] == "12.50"
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_pending_refunds_count_against_what_is_left(
    staff_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    order = order_paid()
    with django_capture_on_commit_callbacks(execute=False):  # the first stays pending
        assert staff_client.post(_url(order), {"amount": "10.00"}).status_code == 202
        response = staff_client.post(_url(order), {"amount": "3.00"})
    assert response.status_code == 400
    assert response.json()["details"]["pending"] == "10.00"
    assert response.json()["details"]["refundable"] == "2.50"
    assert Refund.objects.count() == 1


@pytest.mark.parametrize("amount", ["0.00", "-1.00", "12.345", 5.5, "abc", "1e1"])
def test_an_invalid_amount_is_refused(refund: Callable[..., Any], amount: Any) -> None:
    order = order_paid()
    response = refund(order, {"amount": amount})
    assert response.status_code == 400
    assert "amount" in response.json()["details"]
    assert not Refund.objects.exists()


def test_refunds_are_staff_only(
    customer_client: APIClient, api_client: APIClient, customer: Any
) -> None:
    order = order_paid(user=customer)
    denied = customer_client.post(_url(order), {"amount": None})
    assert denied.status_code == 403
    assert denied.json()["error"] == "permission_denied"
    assert api_client.post(_url(order), {"amount": None}).status_code == 401
    assert not Refund.objects.exists()


def test_an_unpaid_order_cannot_be_refunded(refund: Callable[..., Any]) -> None:
    order = order_create()
    response = refund(order, {"amount": None})
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_state"
    assert refund(Order(pk="00000000-0000-4000-8000-000000000000"), {}).status_code == 404


def test_a_partial_refund_restocks_only_the_lines_it_names(
    refund: Callable[..., Any], two_lines: tuple[Variant, Variant]
) -> None:
    tee, mug = two_lines
    order = order_paid(lines=[(tee, 2), (mug, 1)])
    refused = refund(order, {"amount": "10.00", "restock": True})
    assert refused.status_code == 400
    assert "lines" in refused.json()["details"]
    too_many = refund(
        order, {"amount": "10.00", "restock": True, "lines": [{"sku": "TEE-M", "quantity": 3}]}
    )
    assert too_many.status_code == 400
    ok = refund(
        order, {"amount": "10.00", "restock": True, "lines": [{"sku": "TEE-M", "quantity": 1}]}
    )
    assert ok.status_code == 202, ok.content
    assert ok.json()["restock_lines"] == [
        {"line_id": order.lines.get(sku="TEE-M").pk, "sku": "TEE-M", "quantity": 1}
    ]
    assert (_on_hand(tee), _on_hand(mug)) == (9, 9)
    # The rest, in full: every unit still out goes back, and only those.
    assert refund(order, {"amount": None, "restock": True}).status_code == 202
    assert (_on_hand(tee), _on_hand(mug)) == (10, 10)
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_lines_need_restock_and_exactly_one_of_line_id_or_sku(refund: Callable[..., Any]) -> None:
    order = order_paid()
    line = order.lines.get()
    bodies = [
        {"amount": None, "lines": [{"line_id": line.pk, "quantity": 1}]},
        {"amount": None, "restock": True, "lines": [{"quantity": 1}]},
        {
            "amount": None,
            "restock": True,
            "lines": [{"line_id": line.pk, "sku": "X", "quantity": 1}],
        },
        {"amount": None, "restock": True, "lines": [{"line_id": 999999, "quantity": 1}]},
        {"amount": None, "restock": True, "lines": [{"line_id": line.pk, "quantity": 0}]},
        {"amount": None, "oops": True},
    ]
    for body in bodies:
        response = refund(order, body)
        assert response.status_code == 400, body
        assert response.json()["error"] == "validation_error"
    assert not Refund.objects.exists()


def test_cancelling_a_paid_order_refunds_it_and_keeps_it_cancelled(
    django_capture_on_commit_callbacks: Any, staff: Any
) -> None:
    """What the orders app's order_cancel does: cancel, refund in full, release stock."""
    order = order_paid()
    line = order.lines.get()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        order_transition(order=locked, to_status=Order.Status.CANCELLED, actor=staff)
        refund_create(order=locked, amount=None, restock=False, reason="Cancelled", actor=staff)
        stock_apply(
            changes=at_default({line.variant_id: line.quantity}), reason="release", order=locked
        )
    order.refresh_from_db()
    row = Refund.objects.get()
    assert row.status == Refund.Status.SUCCEEDED
    assert order.status == Order.Status.CANCELLED
    assert order.refunded_total == order.total
    note = OrderEvent.objects.filter(order=order).latest("id")
    assert (note.from_status, note.to_status) == ("cancelled", "cancelled")
    assert f"Refund {row.pk}" in note.note
    assert not StockMovement.objects.filter(order=order, reason="restock").exists()
    # Released on cancellation: a later restock finds nothing left to put back.
    with pytest.raises(Exception, match="Nothing is left"):
        refund_create(order=order, amount=None, restock=True, reason="", actor=staff)


def test_an_idempotency_key_replays_the_refund_instead_of_refunding_twice(
    refund: Callable[..., Any],
) -> None:
    order = order_paid()
    first = refund(order, {"amount": "2.00"}, HTTP_IDEMPOTENCY_KEY="refund-abc")
    again = refund(order, {"amount": "2.00"}, HTTP_IDEMPOTENCY_KEY="refund-abc")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    conflict = refund(order, {"amount": "3.00"}, HTTP_IDEMPOTENCY_KEY="refund-abc")
    assert conflict.status_code == 422
    assert conflict.json()["error"] == "idempotency_conflict"
    assert Refund.objects.count() == 1
    assert latest_payment(order).refunded_amount == Decimal("2.00")


def test_a_refused_refund_fails_and_changes_no_totals(
    refund: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: SandboxProvider, **kwargs: Any) -> Any:
        raise PaymentProviderError("charge disputed", reason="charge_disputed")

    monkeypatch.setattr(SandboxProvider, "refund", refuse)
    order = order_paid()
    assert refund(order, {"amount": None}).status_code == 202
    row = Refund.objects.get()
    assert row.status == Refund.Status.FAILED
    assert row.last_error.startswith("charge_disputed")
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == ("paid", Decimal("0.00"))
    assert latest_payment(order).refunded_amount == Decimal("0.00")
    assert OrderEvent.objects.filter(order=order, note__contains="failed").exists()
    assert not EmailLog.objects.filter(order=order, kind="refund_issued").exists()


def test_a_refund_retries_while_the_provider_is_down_then_fails(
    refund: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def down(self: SandboxProvider, **kwargs: Any) -> Any:
        calls.append(kwargs["idempotency_key"])
        raise ProviderUnavailableError("timeout")

    monkeypatch.setattr(SandboxProvider, "refund", down)
    order = order_paid()
    refund(order, {"amount": None})
    row = Refund.objects.get()
    attempts = refund_process_task.max_retries + 1
    assert len(calls) == attempts
    assert set(calls) == {row.idempotency_key}
    assert (row.status, row.attempts) == ("failed", attempts)
    assert row.last_error.startswith("provider_unavailable")
    payment = latest_payment(order)
    assert payment.status == Payment.Status.CAPTURED
    assert payment.refunded_amount == Decimal("0.00")


def test_refunds_record_the_prorated_tax_and_together_give_back_exactly_the_orders_tax(
    refund: Callable[..., Any], two_lines: tuple[Variant, Variant]
) -> None:
    tee, mug = two_lines
    order = order_paid(lines=[(tee, 2), (mug, 1)])  # total 27.50
    Order.objects.filter(pk=order.pk).update(tax_total=Decimal("4.39"))

    first = refund(order, {"amount": "10.00", "reason": "late"})
    second = refund(order, {"amount": "7.77", "reason": "later"})
    rest = refund(order, {"reason": "all of it"})

    assert [r.status_code for r in (first, second, rest)] == [202, 202, 202]
    assert [first.json()["tax_amount"], second.json()["tax_amount"]] == ["1.60", "1.24"]
    # 10.00 x 4.39 / 27.50 = 1.596 -> 1.60; 7.77 x 4.39 / 27.50 = 1.240 -> 1.24
    assert rest.json()["amount"] == "9.73"
    assert rest.json()["tax_amount"] == "1.55"  # 4.39 - 1.60 - 1.24: the rest, exactly
    total_tax = sum(Refund.objects.filter(order=order).values_list("tax_amount", flat=True))
    assert total_tax == Decimal("4.39")


@pytest.mark.parametrize("restock", ["true", 1, "yes"])
def test_restock_takes_a_json_boolean_only_and_a_refusal_changes_nothing(
    refund: Callable[..., Any], two_lines: tuple[Variant, Variant], restock: Any
) -> None:
    order = order_paid(lines=[(two_lines[0], 1)])
    response = refund(order, {"amount": None, "restock": restock, "reason": "damaged"})
    assert response.status_code == 400
    assert response.json()["details"]["restock"] == ["Must be true or false."]
    assert not Refund.objects.filter(payment__order=order).exists()
