"""Capture: every sandbox token through the real task, retries with backoff, idempotency."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from celery.app import autoretry
from django.core import mail
from django.db import InterfaceError, OperationalError, transaction

from apps.notifications.models import EmailLog
from apps.orders.factories import order_create
from apps.orders.models import Order, OrderEvent
from apps.orders.transitions import order_transition
from apps.payments.conftest import emails
from apps.payments.factories import latest_payment
from apps.payments.models import Payment, Refund, SandboxCharge
from apps.payments.providers.base import ProviderUnavailableError
from apps.payments.providers.sandbox import SandboxProvider
from apps.payments.tasks import payment_capture_task
from workers.base import BaseTask, TransientError
from workers.celery import app

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


@pytest.fixture
def capture(django_capture_on_commit_callbacks: Any) -> Callable[[Order], Payment]:
    """Run the capture task as a worker would (eagerly here), then what it sent after commit."""

    def run(order: Order) -> Payment:
        payment = latest_payment(order)
        with django_capture_on_commit_callbacks(execute=True):
            payment_capture_task.apply(args=[str(payment.pk)])
        payment.refresh_from_db()
        order.refresh_from_db()
        return payment

    return run


def test_capture_task_is_a_late_acked_base_task_on_the_payments_queue() -> None:
    assert isinstance(payment_capture_task, BaseTask)
    # A provider failure and a lost database connection alike retry with backoff.
    assert payment_capture_task.autoretry_for == (TransientError, OperationalError, InterfaceError)
    assert payment_capture_task.acks_late is True
    route = app.amqp.router.route({}, payment_capture_task.name)
    assert route["queue"].name == "payments"


def test_tok_visa_captures_pays_the_order_and_sends_the_confirmation_once(
    capture: Callable[[Order], Payment],
) -> None:
    order = order_create()
    payment = capture(order)
    charge = SandboxCharge.objects.get()
    assert payment.status == Payment.Status.CAPTURED
    assert payment.provider_reference == charge.id
    assert payment.captured_at is not None
    assert payment.attempts == 1
    assert order.status == Order.Status.PAID
    assert order.paid_at is not None
    paid = OrderEvent.objects.get(order=order, to_status=Order.Status.PAID)
    assert (paid.from_status, paid.actor_kind) == ("pending_payment", "provider")
    assert emails(order) == [("order_confirmation", "sent")]
    assert len(mail.outbox) == 1
    assert (charge.status, charge.calls, charge.amount) == ("succeeded", 1, payment.amount)

    # A redelivered task finds the payment captured and never calls the provider.
    payment = capture(order)
    assert SandboxCharge.objects.get().calls == 1
    assert payment.attempts == 1
    assert OrderEvent.objects.filter(order=order, to_status=Order.Status.PAID).count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("token", "code"),
    [("tok_chargeDeclined", "card_declined"), ("tok_insufficientFunds", "insufficient_funds")],
)
def test_a_decline_fails_the_payment_and_leaves_the_order_payable(
    capture: Callable[[Order], Payment], token: str, code: str
) -> None:
    order = order_create(payment_method=token)
    payment = capture(order)
    assert payment.status == Payment.Status.FAILED
    assert payment.failure_code == code
    assert payment.failure_message
    assert order.status == Order.Status.PENDING_PAYMENT
    assert emails(order) == [("payment_failed", "sent")]
    assert EmailLog.objects.get(order=order).reference == str(payment.pk)
    assert not SandboxCharge.objects.filter(status="succeeded").exists()
    assert OrderEvent.objects.filter(order=order, note__contains=code).exists()


def test_tok_timeout_retries_with_exponential_backoff_and_jitter_then_captures(
    capture: Callable[[Order], Payment],
) -> None:
    order = order_create(payment_method="tok_timeout")
    with mock.patch.object(
        autoretry,
        "get_exponential_backoff_interval",
        wraps=autoretry.get_exponential_backoff_interval,
    ) as backoff:
        payment = capture(order)
    task = payment_capture_task
    expected = {"factor": int(task.retry_backoff), "maximum": task.retry_backoff_max}
    assert [c.kwargs for c in backoff.call_args_list] == [
        {**expected, "retries": 0, "full_jitter": True},
        {**expected, "retries": 1, "full_jitter": True},
    ]
    assert task.retry_backoff >= 1  # exponential: factor * 2 ** retries, capped, full jitter
    assert payment.status == Payment.Status.CAPTURED
    assert payment.attempts == 3
    charge = SandboxCharge.objects.get()
    assert (charge.calls, charge.status) == (3, "succeeded")
    assert order.status == Order.Status.PAID
    assert emails(order) == [("order_confirmation", "sent")]


def test_a_provider_that_stays_down_fails_the_payment_after_the_last_retry(
    capture: Callable[[Order], Payment], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def down(self: SandboxProvider, **kwargs: Any) -> Any:
        calls.append(kwargs["idempotency_key"])
        raise ProviderUnavailableError("connection timed out")

    monkeypatch.setattr(SandboxProvider, "charge", down)
    order = order_create()
    payment = capture(order)
    attempts = payment_capture_task.max_retries + 1
    assert len(calls) == attempts
    assert set(calls) == {payment.idempotency_key}  # every retry: the same key
    assert payment.attempts == attempts
    assert payment.status == Payment.Status.FAILED
    assert payment.failure_code == "provider_unavailable"
    assert order.status == Order.Status.PENDING_PAYMENT
    assert emails(order) == [("payment_failed", "sent")]


def test_tok_requires_action_waits_for_a_webhook(capture: Callable[[Order], Payment]) -> None:
    order = order_create(payment_method="tok_requiresAction")
    payment = capture(order)
    assert payment.status == Payment.Status.REQUIRES_ACTION
    assert payment.provider_reference == SandboxCharge.objects.get().id
    assert order.status == Order.Status.PENDING_PAYMENT
    assert emails(order) == []
    # Redelivery changes nothing and charges nothing.
    assert capture(order).status == Payment.Status.REQUIRES_ACTION
    assert SandboxCharge.objects.get().calls == 1


def test_a_payment_of_an_order_cancelled_before_capture_is_not_charged(
    capture: Callable[[Order], Payment],
) -> None:
    order = order_create()
    with transaction.atomic():
        order_transition(order=order, to_status=Order.Status.CANCELLED)
    payment = capture(order)
    assert payment.status == Payment.Status.FAILED
    assert payment.failure_code == "order_not_payable"
    assert payment.attempts == 0
    assert not SandboxCharge.objects.exists()


def test_a_capture_that_lands_after_cancellation_is_kept_and_refunded_in_full(
    capture: Callable[[Order], Payment], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline sweep cancels the order while the charge is in flight."""
    real_charge = SandboxProvider.charge

    def charge_while_cancelled(self: SandboxProvider, **kwargs: Any) -> Any:
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            order_transition(order=locked, to_status=Order.Status.CANCELLED, note="deadline")
        return real_charge(self, **kwargs)

    monkeypatch.setattr(SandboxProvider, "charge", charge_while_cancelled)
    order = order_create()
    payment = capture(order)
    assert payment.status == Payment.Status.CAPTURED  # the money moved: on record
    assert order.status == Order.Status.CANCELLED  # and the order stays cancelled
    refund = Refund.objects.get(order=order)
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.amount == payment.amount
    assert refund.restock is False
    payment.refresh_from_db()
    assert payment.refunded_amount == payment.amount
    assert order.refunded_total == order.total
    notes = list(OrderEvent.objects.filter(order=order).values_list("note", flat=True))
    assert any("after the order became cancelled" in note for note in notes)
    assert any(f"Refund {refund.id}" in note for note in notes)
    assert emails(order) == [("refund_issued", "sent")]  # no confirmation for a cancelled order


def test_a_transient_failure_records_the_scheduled_retry_before_sending_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``next_attempt_at`` is written before the retry is published; the next attempt
    clears it. Here the retry itself is not run (its publish is recorded instead)."""
    from celery.app.task import Task

    order = order_create(payment_method="tok_timeout")
    payment = latest_payment(order)
    seen: list[Any] = []

    def published(self: Task, **kwargs: Any) -> None:
        seen.append(Payment.objects.get(pk=payment.pk).next_attempt_at)
        seen.append(kwargs["countdown"])
        raise RuntimeError("retry published")

    monkeypatch.setattr(Task, "retry", published)
    payment_capture_task.apply(args=[str(payment.pk)])
    marked, countdown = seen
    assert marked is not None
    stored = Payment.objects.get(pk=payment.pk)
    assert stored.status == Payment.Status.PENDING
    assert stored.next_attempt_at == marked
    assert stored.last_attempt_at is not None
    expected = stored.last_attempt_at.timestamp() + countdown
    assert abs(marked.timestamp() - expected) < 2

    monkeypatch.undo()
    payment_capture_task.apply(args=[str(payment.pk)])  # tok_timeout: second attempt succeeds
    stored.refresh_from_db()
    assert stored.status == Payment.Status.CAPTURED
    assert stored.next_attempt_at is None


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_lost_database_connection_is_retried_soon_with_the_same_key(
    capture: Callable[[Order], Payment],
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    error: type[Exception],
) -> None:
    """The charge succeeded, then applying it lost the connection: the retry presents the
    same idempotency key, the provider answers the same charge, and it is applied."""
    from apps.payments.services import payments as payment_services

    original = payment_services.payment_apply_result
    failures = [error("server closed the connection unexpectedly")]
    countdowns: list[float] = []

    def flaky(**kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return original(**kwargs)

    monkeypatch.setattr(payment_services, "payment_apply_result", flaky)
    real_backoff = autoretry.get_exponential_backoff_interval
    monkeypatch.setattr(
        autoretry, "get_exponential_backoff_interval", lambda **kw: real_backoff(**kw) + 1000
    )
    from celery.app.task import Task

    real_retry = Task.retry

    def retry(self: Task, *args: Any, **kwargs: Any) -> Any:
        countdowns.append(kwargs["countdown"])
        return real_retry(self, *args, **kwargs)

    monkeypatch.setattr(Task, "retry", retry)
    order = order_create()
    payment = capture(order)
    assert payment.status == Payment.Status.CAPTURED
    assert payment.attempts == 2
    charge = SandboxCharge.objects.get()
    assert (charge.calls, charge.status) == (2, "succeeded")  # one charge, asked twice
    assert countdowns == [settings.TASK_DB_RETRY_BACKOFF_MAX_SECONDS]  # capped: soon
    assert order.status == Order.Status.PAID
