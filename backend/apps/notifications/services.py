"""Emails about orders and accounts: queue one (a durable row first), then send it once.

``email_enqueue`` (order emails) and ``account_email_enqueue`` (password reset,
email verification) are called inside the transaction that caused the email; the
``EmailLog`` row commits with it and the send task is published after commit.
``email_send`` locks the row and does nothing if it was already sent, so a
task delivered twice sends once. What does not belong here: template content.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from apps.notifications.models import EmailLog
from workers.base import DATABASE_ERRORS, TransientError, drop_broken_connections
from workers.enqueue import enqueue_on_commit, redispatch

logger = logging.getLogger(__name__)

SUBJECTS = {
    EmailLog.Kind.ORDER_CONFIRMATION: "Your order {number} is confirmed",
    EmailLog.Kind.PAYMENT_FAILED: "Payment for order {number} did not go through",
    EmailLog.Kind.ORDER_CANCELLED: "Your order {number} was cancelled",
    EmailLog.Kind.ORDER_FULFILLED: "Your order {number} is on its way",
    EmailLog.Kind.REFUND_ISSUED: "A refund for order {number} was issued",
    EmailLog.Kind.ORDER_SHIPPED: "Part of your order {number} has shipped",
    EmailLog.Kind.RETURN_APPROVED: "Your return for order {number} is approved",
    EmailLog.Kind.RETURN_REJECTED: "Your return for order {number} was not accepted",
    EmailLog.Kind.RETURN_REFUNDED: "Your return for order {number} was refunded",
    EmailLog.Kind.PASSWORD_RESET: "Reset your password",
    EmailLog.Kind.EMAIL_VERIFICATION: "Confirm your email address",
}
RETURN_KINDS = frozenset(
    {EmailLog.Kind.RETURN_APPROVED, EmailLog.Kind.RETURN_REJECTED, EmailLog.Kind.RETURN_REFUNDED}
)
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
    ``REDISPATCH_AFTER_SECONDS`` (their task never ran, and its message is not waiting
    behind a backlog), and those left ``sending`` longer than
    ``EMAIL_SENDING_STALE_SECONDS`` (their worker died); return how many were sent."""
    from apps.notifications.tasks import order_email_send_task
    from apps.ops.services import redispatch_backlog_cutoff

    now = timezone.now()
    grace = timedelta(seconds=settings.REDISPATCH_AFTER_SECONDS)
    backlog = redispatch_backlog_cutoff(order_email_send_task, now=now)
    stale = now - timedelta(seconds=settings.EMAIL_SENDING_STALE_SECONDS)
    sent = redispatch(
        EmailLog.objects.filter(
            Q(status=EmailLog.Status.QUEUED, updated_at__lt=min(now - grace, backlog))
            | Q(status=EmailLog.Status.SENDING, updated_at__lt=stale)
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
    context: dict[str, Any] = {
        "order": order,
        "lines": list(order.lines.all()),
        "refund": refund,
        "kind": log.kind,
    }
    if log.kind == EmailLog.Kind.ORDER_SHIPPED and log.reference:
        context.update(_shipped_context(order, log.reference))
    if log.kind in RETURN_KINDS:
        from apps.returns.models import ReturnRequest  # the reference is the return's number

        return_request = (
            ReturnRequest.objects.select_related("refund").filter(number=log.reference).first()
        )
        context["return_request"] = return_request
        context["refund"] = return_request.refund if return_request else None
    return context


def _shipped_context(order: Any, number: str) -> dict[str, Any]:
    """The parcel a shipped email is about, and its lines (instead of the whole order's)."""
    from apps.orders.models import Fulfilment

    fulfilment = (
        Fulfilment.objects.filter(order=order, number=number)
        .prefetch_related("lines__line")
        .first()
    )
    if fulfilment is None:
        return {"fulfilment": None}
    return {"fulfilment": fulfilment, "parcel_lines": list(fulfilment.lines.all())}


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


class EmailOutcomeNotRecorded(Exception):
    """The backend accepted the email but saving ``sent`` failed (the database went away)."""


def _sender_domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(" >") or "localhost"


def email_send(
    *, email_log_id: int, max_attempts: int = 6, handed_over: bool = False
) -> EmailLog | None:
    """Send a queued email once; transient backend failures raise ``TransientError``.

    1. Lock the row; mark it ``sending`` and count the attempt; commit.
    2. Hand the email to the backend, outside any transaction, with a ``Message-ID``
       derived from the row (the same on every attempt).
    3. Record ``sent`` (retried a few times if the database drops); if that still
       fails, ``EmailOutcomeNotRecorded``: the task retries with ``handed_over=True``,
       which only records the outcome and never sends again.

    A row found ``sending`` by another run is left alone while that run may still be
    going (``TransientError``: look again later); once it is older than
    ``EMAIL_SENDING_STALE_SECONDS`` its worker died between steps 1 and 3, the outcome
    is unknown, and it is sent again with the same ``Message-ID`` (at least once).
    """
    with transaction.atomic():
        log = EmailLog.objects.select_for_update().filter(pk=email_log_id).first()
        done = (EmailLog.Status.SENT, EmailLog.Status.FAILED, EmailLog.Status.SKIPPED)
        if log is None or log.status in done:
            return log
        if handed_over:
            _record_sent(log)
            return log
        if log.status == EmailLog.Status.SENDING:
            age = (timezone.now() - log.updated_at).total_seconds()
            if age < settings.EMAIL_SENDING_STALE_SECONDS:
                raise TransientError(f"email {log.pk} is being sent by another run")
            logger.warning(
                "email %s was left sending %.0f s ago (its worker died); the outcome is "
                "unknown: sending again with the same Message-ID",
                log.pk,
                age,
            )
        rendered = email_render(log=log)
        if rendered is None:  # nothing to send (e.g. a reset asked for an unknown address)
            log.status = EmailLog.Status.SKIPPED
            log.save(update_fields=["status", "user", "updated_at"])
            return log
        log.status = EmailLog.Status.SENDING
        log.attempts += 1
        log.save(update_fields=["status", "attempts", "user", "updated_at"])
    message = _message(log, rendered)
    try:
        message.send(fail_silently=False)
    except Exception as exc:
        return _record_failure(log, exc, max_attempts=max_attempts)
    for attempt in range(settings.EMAIL_RECORD_ATTEMPTS):
        try:
            with transaction.atomic():
                _record_sent(EmailLog.objects.select_for_update().get(pk=log.pk))
            break
        except DATABASE_ERRORS as exc:
            drop_broken_connections()
            logger.warning("email %s sent; saving it failed (%s), trying again", log.pk, exc)
            if attempt + 1 >= settings.EMAIL_RECORD_ATTEMPTS:
                raise EmailOutcomeNotRecorded(f"email {log.pk} sent; saving it failed") from exc
            time.sleep(min(2.0**attempt * 0.25, 2.0))
    log.refresh_from_db()
    return log


def _message(log: EmailLog, rendered: tuple[str, str, str]) -> EmailMultiAlternatives:
    subject, text, html = rendered
    message = EmailMultiAlternatives(
        subject,
        text,
        settings.DEFAULT_FROM_EMAIL,
        [log.recipient],
        headers={"Message-ID": log.message_id(_sender_domain())},
    )
    message.attach_alternative(html, "text/html")
    return message


def _record_sent(log: EmailLog) -> None:
    if log.status == EmailLog.Status.SENT:
        return
    log.status = EmailLog.Status.SENT
    log.sent_at = timezone.now()
    log.last_error = ""
    log.save(update_fields=["status", "sent_at", "last_error", "updated_at"])


def _record_failure(log: EmailLog, exc: Exception, *, max_attempts: int) -> EmailLog:
    """The backend refused it (nothing was sent): queued again, or failed for good."""
    error = f"{type(exc).__name__}: {exc}"[:500]
    gave_up = log.attempts >= max_attempts
    status = EmailLog.Status.FAILED if gave_up else EmailLog.Status.QUEUED
    EmailLog.objects.filter(pk=log.pk).update(
        status=status, last_error=error, updated_at=timezone.now()
    )
    logger.warning("email %s attempt %s failed: %s", log.pk, log.attempts, exc)
    log.refresh_from_db()
    if gave_up:
        return log
    raise TransientError(f"email {log.pk} not sent yet")
