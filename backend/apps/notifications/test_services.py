"""Emails: one row per order and kind, rendered with the order's lines, sent once."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from apps.notifications import services
from apps.notifications.models import EmailLog
from apps.notifications.tasks import order_email_send_task
from apps.orders.models import Order, OrderLine
from workers.base import TransientError

pytestmark = pytest.mark.django_db(transaction=True)


def _smtp_down() -> AbstractContextManager[Any]:
    """Every send fails as a refused SMTP connection does (``OSError("smtp down")``)."""
    return mock.patch(
        "django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("smtp down")
    )


def _order() -> Order:
    order = Order.objects.create(
        number="SF-TEST-0001",
        email="buyer@example.com",
        currency="EUR",
        subtotal=Decimal("39.98"),
        shipping_total=Decimal("4.90"),
        total=Decimal("44.88"),
        shipping_method="standard",
        shipping_address={"name": "A & B <Ltd>", "country": "DE"},
        payment_deadline=timezone.now() + timedelta(minutes=30),
    )
    OrderLine.objects.create(
        order=order,
        sku="TEE-RED-M",
        product_name="Tee & Co",
        variant_name="Red / M",
        unit_price=Decimal("19.99"),
        quantity=2,
        line_total=Decimal("39.98"),
    )
    return order


def test_enqueue_sends_the_confirmation_once_with_lines_and_totals() -> None:
    order = _order()
    log = services.email_enqueue(order=order, kind=EmailLog.Kind.ORDER_CONFIRMATION)
    log.refresh_from_db()
    assert log.status == EmailLog.Status.SENT
    assert log.attempts == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["buyer@example.com"]
    assert "SF-TEST-0001" in message.subject
    assert "2 x Tee & Co (Red / M, TEE-RED-M)" in message.body  # text is not HTML-escaped
    assert "44.88 EUR" in message.body
    html = message.alternatives[0][0]  # type: ignore[attr-defined]
    assert "Tee &amp; Co" in html  # HTML is escaped


def test_enqueue_twice_is_one_row_and_one_email() -> None:
    order = _order()
    first = services.email_enqueue(order=order, kind=EmailLog.Kind.ORDER_CANCELLED)
    second = services.email_enqueue(order=order, kind=EmailLog.Kind.ORDER_CANCELLED)
    assert first.pk == second.pk
    assert EmailLog.objects.filter(order=order).count() == 1
    assert len(mail.outbox) == 1


def test_task_delivered_twice_sends_once() -> None:
    order = _order()
    log = EmailLog.objects.create(
        order=order, kind=EmailLog.Kind.ORDER_FULFILLED, recipient=order.email
    )
    order_email_send_task.apply(args=(log.pk,))
    order_email_send_task.apply(args=(log.pk,))
    log.refresh_from_db()
    assert log.status == EmailLog.Status.SENT
    assert log.attempts == 1
    assert len(mail.outbox) == 1


def test_every_order_kind_renders_text_and_html() -> None:
    order = _order()
    for kind in set(EmailLog.Kind.values) - services.ACCOUNT_KINDS:
        log = EmailLog(order=order, kind=kind, recipient=order.email)
        subject, text, html = services.email_render(log=log)
        assert order.number in subject
        assert order.number in text
        assert "<html" in html


def test_smtp_failure_counts_the_attempt_and_asks_for_a_retry() -> None:
    order = _order()
    log = EmailLog.objects.create(
        order=order, kind=EmailLog.Kind.PAYMENT_FAILED, recipient=order.email
    )
    with _smtp_down(), pytest.raises(TransientError):
        services.email_send(email_log_id=log.pk)
    log.refresh_from_db()
    assert log.status == EmailLog.Status.QUEUED
    assert log.attempts == 1
    assert "smtp down" in log.last_error
    services.email_send(email_log_id=log.pk)
    log.refresh_from_db()
    assert log.status == EmailLog.Status.SENT
    assert log.attempts == 2


def test_gives_up_after_max_attempts() -> None:
    order = _order()
    log = EmailLog.objects.create(
        order=order, kind=EmailLog.Kind.PAYMENT_FAILED, recipient=order.email, attempts=5
    )
    with _smtp_down():
        services.email_send(email_log_id=log.pk, max_attempts=6)
    log.refresh_from_db()
    assert log.status == EmailLog.Status.FAILED
    assert mail.outbox == []


def _log() -> EmailLog:
    order = _order()
    return EmailLog.objects.create(
        order=order, kind=EmailLog.Kind.ORDER_CONFIRMATION, recipient=order.email
    )


def test_the_row_is_marked_sending_before_the_backend_has_it_and_carries_a_stable_id() -> None:
    log = _log()
    seen: list[str] = []
    real_send = mail.EmailMultiAlternatives.send

    def send(self: mail.EmailMultiAlternatives, *args: object, **kwargs: object) -> int:
        seen.append(EmailLog.objects.get(pk=log.pk).status)
        return real_send(self, *args, **kwargs)

    with mock.patch("django.core.mail.EmailMultiAlternatives.send", send):
        services.email_send(email_log_id=log.pk)
    assert seen == [EmailLog.Status.SENDING]
    log.refresh_from_db()
    assert (log.status, log.attempts) == (EmailLog.Status.SENT, 1)
    assert mail.outbox[0].extra_headers["Message-ID"] == log.message_id("example.com")
    assert log.message_id("example.com") == f"<order-email-{log.pk}.{log.order_id}@example.com>"


def test_sent_but_not_recorded_is_recorded_by_the_retry_without_sending_again(
    settings: object,
) -> None:
    """The database drops right after the backend accepted the email."""
    from django.db import OperationalError

    settings.EMAIL_RECORD_ATTEMPTS = 2  # type: ignore[attr-defined]
    log = _log()
    real_record = services._record_sent
    failures = [OperationalError("connection lost")] * 2

    def record(row: EmailLog) -> None:
        if failures:
            raise failures.pop()
        real_record(row)

    with mock.patch.object(services, "_record_sent", record), mock.patch("time.sleep"):
        order_email_send_task.apply(args=(log.pk,))  # eager: the retry runs right away
    log.refresh_from_db()
    assert log.status == EmailLog.Status.SENT
    assert len(mail.outbox) == 1  # the retry recorded it; it did not send it again
    assert log.attempts == 1


def test_a_row_another_run_is_sending_is_left_alone_until_it_is_stale(settings: object) -> None:
    log = _log()
    EmailLog.objects.filter(pk=log.pk).update(status=EmailLog.Status.SENDING, attempts=1)
    with pytest.raises(TransientError):
        services.email_send(email_log_id=log.pk)
    assert mail.outbox == []
    stale = settings.EMAIL_SENDING_STALE_SECONDS + 5  # type: ignore[attr-defined]
    EmailLog.objects.filter(pk=log.pk).update(updated_at=timezone.now() - timedelta(seconds=stale))
    with mock.patch("workers.enqueue.publish", return_value=True) as publish:
        assert services.email_redispatch() == 1  # the sweep sends the stale one again
    assert publish.call_args.args[1] == log.pk
    services.email_send(email_log_id=log.pk)  # its worker died: outcome unknown, resent
    log.refresh_from_db()
    assert (log.status, log.attempts) == (EmailLog.Status.SENT, 2)
    assert mail.outbox[0].extra_headers["Message-ID"] == log.message_id("example.com")


@pytest.mark.django_db
def test_an_account_email_is_retried_after_an_smtp_failure_and_sent_once() -> None:
    from apps.accounts.factories import UserFactory

    user = UserFactory.create(email="reset.me@example.com")
    log = services.account_email_enqueue(
        kind=EmailLog.Kind.PASSWORD_RESET, recipient="reset.me@example.com"
    )
    assert log.order_id is None
    with _smtp_down(), pytest.raises(TransientError):
        services.email_send(email_log_id=log.pk)
    log.refresh_from_db()
    assert (log.status, log.attempts) == (EmailLog.Status.QUEUED, 1)

    services.email_send(email_log_id=log.pk)
    services.email_send(email_log_id=log.pk)  # a duplicate task: nothing more

    log.refresh_from_db()
    assert (log.status, log.attempts, log.user_id) == (EmailLog.Status.SENT, 2, user.pk)
    (message,) = mail.outbox
    assert message.to == ["reset.me@example.com"]
    assert "token=" in message.body
    assert message.alternatives[0][1] == "text/html"


def test_an_order_kind_is_not_an_account_email() -> None:
    with pytest.raises(ValueError, match="not an account email"):
        services.account_email_enqueue(kind=EmailLog.Kind.ORDER_CONFIRMATION, recipient="a@b.c")


def test_the_confirmation_names_the_discounts_and_the_tax() -> None:
    order = _order()
    Order.objects.filter(pk=order.pk).update(
        discount_total=Decimal("4.00"),
        tax_total=Decimal("6.38"),
        total=Decimal("40.88"),
        discounts=[
            {"kind": "promotion", "code": "", "name": "Winter sale", "amount": "2.00"},
            {"kind": "voucher", "code": "WELCOME10", "name": "WELCOME10", "amount": "2.00"},
        ],
    )
    order.refresh_from_db()
    services.email_enqueue(order=order, kind=EmailLog.Kind.ORDER_CONFIRMATION)
    body = mail.outbox[0].body
    assert "Winter sale: -2.00 EUR" in body
    assert "Voucher WELCOME10: -2.00 EUR" in body
    assert "Including tax: 6.38 EUR" in body
    assert "Total:    40.88 EUR" in body
    html = mail.outbox[0].alternatives[0][0]  # type: ignore[attr-defined]
    assert "Voucher WELCOME10" in html
    assert "6.38 EUR" in html
