"""Emails about orders and accounts: queue one (a durable row first), then send it once.

``email_enqueue`` (order emails) and ``account_email_enqueue`` (password reset,
email verification) are called inside the transaction that caused the email; the
``EmailLog`` row commits with it and the send task is published after commit.
``email_send`` locks the row and does nothing if it was already sent, so a
task delivered twice sends once. What does not belong here: template content.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from apps.notifications.models import EmailLog
from workers.base import TransientError
from workers.enqueue import enqueue_on_commit, redispatch

logger = logging.getLogger(__name__)

SUBJECTS = {
    EmailLog.Kind.ORDER_CONFIRMATION: "Your order {number} is confirmed",
    EmailLog.Kind.PAYMENT_FAILED: "Payment for order {number} did not go through",
    EmailLog.Kind.ORDER_CANCELLED: "Your order {number} was cancelled",
    EmailLog.Kind.ORDER_FULFILLED: "Your order {number} is on its way",
    EmailLog.Kind.REFUND_ISSUED: "A refund for order {number} was issued",
    EmailLog.Kind.PASSWORD_RESET: "Reset your password",
    EmailLog.Kind.EMAIL_VERIFICATION: "Confirm your email address",
}
ACCOUNT_KINDS = frozenset({EmailLog.Kind.PASSWORD_RESET, EmailLog.Kind.EMAIL_VERIFICATION})


def email_enqueue(*, order: Any, kind: str, reference: str = "") -> EmailLog:
    """Record the email to send (once per order, kind and reference) and send it after commit."""
    log, created = EmailLog.objects.get_or_create(
        order=order,
        kind=kind,
        reference=reference,
        defaults={"recipient": order.email},
    )
    if created:
        from apps.notifications.tasks import order_email_send_task

        enqueue_on_commit(order_email_send_task, log.pk)
    return log


def account_email_enqueue(*, kind: str, recipient: str, user: Any = None) -> EmailLog:
    """Record an account email (no order; a fresh reference each time) and send it after
    commit. Its content (a token, a link) is made when it is sent, never stored."""
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"{kind} is not an account email")
    log = EmailLog.objects.create(
        kind=kind, reference=uuid.uuid4().hex, recipient=recipient, user=user
    )
    from apps.notifications.tasks import order_email_send_task

    enqueue_on_commit(order_email_send_task, log.pk)
    return log


def email_redispatch(*, limit: int = 200) -> int:
    """The re-dispatch sweep of emails: publish again those still ``queued`` after
    ``REDISPATCH_AFTER_SECONDS`` (their task never ran); return how many were sent."""
    from apps.notifications.tasks import order_email_send_task

    grace = timedelta(seconds=settings.REDISPATCH_AFTER_SECONDS)
    sent = redispatch(
        EmailLog.objects.filter(
            status=EmailLog.Status.QUEUED, updated_at__lt=timezone.now() - grace
        ),
        order_email_send_task,
        limit=limit,
    )
    if sent:
        logger.info("re-dispatch sweep sent %d emails", sent)
    return sent


def _context(log: EmailLog) -> dict[str, Any] | None:
    """What the templates need; None when there is nothing to send (see ``SKIPPED``)."""
    if log.order_id is None:
        from apps.accounts.emails import account_email_context

        return account_email_context(log)
    from apps.orders.models import Order

    order = Order.objects.prefetch_related("lines").get(pk=log.order_id)
    refund = None
    if log.kind == EmailLog.Kind.REFUND_ISSUED and log.reference:
        from apps.payments.models import Refund

        refund = Refund.objects.filter(pk=log.reference).first()
    return {"order": order, "lines": list(order.lines.all()), "refund": refund, "kind": log.kind}


def email_render(*, log: EmailLog) -> tuple[str, str, str] | None:
    """Subject, text body and HTML body of an email (None: nothing to send)."""
    context = _context(log)
    if context is None:
        return None
    order = context.get("order")
    subject = SUBJECTS[EmailLog.Kind(log.kind)].format(number=getattr(order, "number", ""))
    text = render_to_string(f"notifications/email/{log.kind}.txt", context)
    html = render_to_string(f"notifications/email/{log.kind}.html", context)
    return subject, text, html


def email_send(*, email_log_id: int, max_attempts: int = 6) -> EmailLog | None:
    """Send a queued email once. Transient SMTP failures raise ``TransientError`` to retry."""
    with transaction.atomic():
        log = EmailLog.objects.select_for_update().filter(pk=email_log_id).first()
        if log is None or log.status in (EmailLog.Status.SENT, EmailLog.Status.SKIPPED):
            return log
        rendered = email_render(log=log)
        if rendered is None:
            log.status = EmailLog.Status.SKIPPED
            log.save(update_fields=["status", "user", "updated_at"])
            return log
        subject, text, html = rendered
        message = EmailMultiAlternatives(
            subject, text, settings.DEFAULT_FROM_EMAIL, [log.recipient]
        )
        message.attach_alternative(html, "text/html")
        log.attempts += 1
        try:
            message.send(fail_silently=False)
        except Exception as exc:
            log.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if log.attempts >= max_attempts:
                log.status = EmailLog.Status.FAILED
            log.save(update_fields=["attempts", "last_error", "status", "updated_at"])
            logger.warning("email %s attempt %s failed: %s", log.pk, log.attempts, exc)
            if log.status == EmailLog.Status.FAILED:
                return log
            failed = True  # commit the attempt count, then retry with backoff
        else:
            log.status = EmailLog.Status.SENT
            log.sent_at = timezone.now()
            log.last_error = ""
            log.save(
                update_fields=["status", "sent_at", "attempts", "last_error", "user", "updated_at"]
            )
            failed = False
    if failed:
        raise TransientError(f"email {email_log_id} not sent yet")
    return log
