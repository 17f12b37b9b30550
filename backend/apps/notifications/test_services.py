"""Emails: one row per order and kind, rendered with the order's lines, sent once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
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


def test_every_kind_renders_text_and_html() -> None:
    order = _order()
    for kind in EmailLog.Kind.values:
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
    with (
        mock.patch(
            "django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("smtp down")
        ),
        pytest.raises(TransientError),
    ):
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
    with mock.patch(
        "django.core.mail.EmailMultiAlternatives.send", side_effect=OSError("smtp down")
    ):
        services.email_send(email_log_id=log.pk, max_attempts=6)
    log.refresh_from_db()
    assert log.status == EmailLog.Status.FAILED
    assert mail.outbox == []


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
