"""Writes for outbound webhooks: endpoints, events, deliveries, replays and the sweep.

``event_emit`` runs inside the transaction of the change it reports: the event
and one delivery per subscribed endpoint commit with that change (nothing lost
if the broker is down) and the delivery tasks are published after commit.
``delivery_attempt`` locks a delivery, POSTs the signed body once and either
marks it delivered, schedules the next attempt (exponential backoff with
jitter, for up to ``WEBHOOK_RETRY_WINDOW_SECONDS``) or marks it failed; an
endpoint whose deliveries keep failing that long is disabled and ops is told.
What does not belong here: HTTP details and the address guard (``transport``).
"""

from __future__ import annotations

import json
import logging
import random
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.integrations import transport
from apps.integrations.models import (
    DeliveryAttempt,
    EventType,
    OutboundEvent,
    WebhookDelivery,
    WebhookEndpoint,
)
from utils import signing
from utils.errors import InvalidStateError, ValidationError
from workers.enqueue import enqueue_on_commit, redispatch

logger = logging.getLogger(__name__)

SUBSCRIPTIONS_KEY = "integrations:subscriptions"
SIGNATURE_HEADER = "Storefront-Signature"
_S = WebhookDelivery.Status


# --- Endpoints ------------------------------------------------------------------------


def _secret_new() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _url_validate(url: str) -> None:
    try:
        transport.url_check(url)
    except transport.DestinationRefused as exc:
        raise ValidationError("url", str(exc)) from exc


def _events_validate(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [e for e in chosen if e not in EventType.values]
    if unknown or not chosen:
        raise ValidationError("events", f"Choose among {', '.join(EventType.values)}.")
    return chosen


def subscriptions_changed() -> None:
    """Forget the cached subscription table now and again after commit (never raises)."""

    def forget() -> None:
        try:
            cache.delete(SUBSCRIPTIONS_KEY)
        except Exception:
            logger.warning("could not clear the webhook subscription cache; it expires soon")

    forget()
    transaction.on_commit(forget, robust=True)


def endpoint_create(
    *, url: str, events: list[str], description: str = "", is_active: bool = True
) -> WebhookEndpoint:
    _url_validate(url)
    endpoint = WebhookEndpoint.objects.create(
        url=url,
        events=_events_validate(events),
        description=description,
        is_active=is_active,
        secret=_secret_new(),
    )
    subscriptions_changed()
    return endpoint


def endpoint_update(*, endpoint: WebhookEndpoint, data: dict[str, Any]) -> WebhookEndpoint:
    """Change URL, events, description or the active flag; enabling clears a disable."""
    fields: list[str] = []
    if "url" in data:
        _url_validate(data["url"])
        endpoint.url = data["url"]
        fields.append("url")
    if "events" in data:
        endpoint.events = _events_validate(data["events"])
        fields.append("events")
    if "description" in data:
        endpoint.description = data["description"]
        fields.append("description")
    if "is_active" in data:
        endpoint.is_active = data["is_active"]
        fields.append("is_active")
        if endpoint.is_active:
            endpoint.disabled_reason, endpoint.disabled_at = "", None
            endpoint.consecutive_failures = 0
            fields += ["disabled_reason", "disabled_at", "consecutive_failures"]
    if fields:
        endpoint.save(update_fields=[*fields, "updated_at"])
        subscriptions_changed()
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Stop sending to it and hide it; the row and its delivery log stay (see the model)."""
    endpoint.is_active = False
    endpoint.deleted_at = timezone.now()
    endpoint.save(update_fields=["is_active", "deleted_at", "updated_at"])
    subscriptions_changed()


def endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint.secret = _secret_new()
    endpoint.save(update_fields=["secret", "updated_at"])
    return endpoint


def _disable(endpoint: WebhookEndpoint, *, reason: str) -> None:
    endpoint.is_active = False
    endpoint.disabled_reason = reason[:200]
    endpoint.disabled_at = timezone.now()
    endpoint.save(update_fields=["is_active", "disabled_reason", "disabled_at", "updated_at"])
    subscriptions_changed()
    # Ops is told: an ERROR line (alerting reads logs), the /ops/ page and the overview.
    logger.error("webhook endpoint %s (%s) disabled: %s", endpoint.pk, endpoint.url, reason)


# --- Events -----------------------------------------------------------------------------


def event_subscriptions() -> dict[str, list[int]]:
    """Active endpoint ids per event type, cached briefly (a miss costs one query).

    Cached so that a checkout or a payment in a shop without webhooks runs no extra
    query. Every endpoint write forgets the entry; a cache that is down falls back to
    the database. Calling it ahead warms the cache (the checkout budget tests do).
    """
    try:
        table = cache.get(SUBSCRIPTIONS_KEY)
    except Exception:
        table = None
    if isinstance(table, dict):
        return table
    table = {}
    for pk, events in WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "events"):
        for event_type in events:
            table.setdefault(event_type, []).append(pk)
    try:
        cache.set(SUBSCRIPTIONS_KEY, table, timeout=settings.WEBHOOK_SUBSCRIPTION_CACHE_SECONDS)
    except Exception:
        logger.warning("could not cache the webhook subscription table")
    return table


def event_emit(*, event_type: str, payload: Callable[[], dict[str, Any]]) -> OutboundEvent | None:
    """Record an event and its deliveries in the caller's transaction; None if nobody listens."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_emit() must run inside transaction.atomic()")
    endpoint_ids = event_subscriptions().get(event_type, [])
    if not endpoint_ids:
        return None
    # The cache only says whom to ask: the rows decide. A cached id whose row is gone (a
    # database restored or emptied under a shared cache) must never fail the change
    # that emits the event with a foreign-key violation at commit.
    live = list(
        WebhookEndpoint.objects.filter(
            pk__in=endpoint_ids, is_active=True, deleted_at__isnull=True
        ).values_list("pk", flat=True)
    )
    if not live:
        return None
    event = OutboundEvent.objects.create(type=event_type, payload=payload())
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(event=event, endpoint_id=pk, next_attempt_at=now) for pk in live]
    )
    from apps.integrations.tasks import webhook_deliver_task

    for delivery in deliveries:
        enqueue_on_commit(webhook_deliver_task, delivery.pk)
    return event


def event_body(event: OutboundEvent) -> bytes:
    """The JSON every receiver of this event gets (the same bytes on every attempt)."""
    document = {
        "id": str(event.id),
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "data": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


# --- Deliveries ---------------------------------------------------------------------------


def retry_delay(attempts: int, *, rng: random.Random | None = None) -> float:
    """Seconds before attempt ``attempts + 1``: exponential, capped, half of it jittered."""
    base = float(settings.WEBHOOK_BACKOFF_SECONDS) * (2 ** max(0, attempts - 1))
    ceiling = min(base, float(settings.WEBHOOK_BACKOFF_MAX_SECONDS))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def _headers(*, event: OutboundEvent, body: bytes, secret: str, attempt: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "storefront-webhooks/1",
        SIGNATURE_HEADER: signing.signature_header(body=body, secret=secret),
        "Storefront-Event-Id": str(event.id),
        "Storefront-Event-Type": event.type,
        "Storefront-Delivery-Attempt": str(attempt),
    }


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """One attempt of a pending, due delivery; does nothing to any other (so runs twice safely)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("event", "endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        current = now or timezone.now()
        if delivery is None or delivery.status != _S.PENDING:
            return delivery
        if delivery.next_attempt_at > current:
            return delivery  # a duplicate message of a task whose retry is scheduled later
        endpoint = delivery.endpoint
        if not endpoint.is_active:
            delivery.status = _S.FAILED
            delivery.last_error = "endpoint disabled"
            delivery.save(update_fields=["status", "last_error", "updated_at"])
            return delivery
        delivery.attempts += 1
        body = event_body(delivery.event)
        answer = transport.post(
            url=endpoint.url,
            body=body,
            headers=_headers(
                event=delivery.event, body=body, secret=endpoint.secret, attempt=delivery.attempts
            ),
        )
        succeeded = answer.status_code is not None and 200 <= answer.status_code < 300
        error = answer.error or ("" if succeeded else f"HTTP {answer.status_code}")
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            status_code=answer.status_code,
            duration_ms=answer.duration_ms,
            error=error[:500],
            succeeded=succeeded,
        )
        delivery.last_status_code = answer.status_code
        delivery.last_duration_ms = answer.duration_ms
        delivery.last_error = error[:500]
        countdown: float | None = None
        if succeeded:
            delivery.status = _S.DELIVERED
            delivery.delivered_at = current
            endpoint.consecutive_failures = 0
            endpoint.last_success_at = current
            endpoint.save(update_fields=["consecutive_failures", "last_success_at", "updated_at"])
        else:
            endpoint.consecutive_failures += 1
            endpoint.save(update_fields=["consecutive_failures", "updated_at"])
            window = timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS)
            delay = retry_delay(delivery.attempts)
            if current + timedelta(seconds=delay) - delivery.created_at > window:
                delivery.status = _S.FAILED
                logger.warning("webhook delivery %s failed for good: %s", delivery.pk, error)
                if endpoint.last_success_at is None or endpoint.last_success_at < (
                    delivery.created_at
                ):
                    _disable(endpoint, reason=f"deliveries failing since {delivery.created_at}")
            else:
                delivery.next_attempt_at = current + timedelta(seconds=delay)
                if delay <= settings.WEBHOOK_COUNTDOWN_MAX_SECONDS:
                    countdown = delay  # longer waits are sent by the sweep when due
        delivery.save(
            update_fields=[
                "status",
                "attempts",
                "next_attempt_at",
                "last_status_code",
                "last_duration_ms",
                "last_error",
                "delivered_at",
                "updated_at",
            ]
        )
        if countdown is not None:
            from apps.integrations.tasks import webhook_deliver_task

            enqueue_on_commit(webhook_deliver_task, delivery.pk, countdown=countdown)
    return delivery


def delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a finished delivery again (same event id: receivers that saw it dedupe it)."""
    with transaction.atomic():
        locked = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint")
            .get(pk=delivery.pk)
        )
        if locked.status == _S.PENDING:
            raise InvalidStateError(
                "This delivery is still being attempted.", details={"status": locked.status}
            )
        if not locked.endpoint.is_active:
            raise InvalidStateError(
                "The endpoint is disabled: enable it before replaying its deliveries.",
                details={"endpoint": locked.endpoint_id},
            )
        locked.status = _S.PENDING
        locked.next_attempt_at = timezone.now()
        # The retry window starts again for a replay.
        locked.created_at = locked.next_attempt_at
        locked.save(update_fields=["status", "next_attempt_at", "created_at", "updated_at"])
        from apps.integrations.tasks import webhook_deliver_task

        enqueue_on_commit(webhook_deliver_task, locked.pk)
    return locked


def delivery_redispatch(*, limit: int = 200, now: datetime | None = None) -> int:
    """The sweep: publish pending deliveries overdue by ``REDISPATCH_AFTER_SECONDS``
    (their task was lost, or their wait was longer than a countdown may be)."""
    from apps.integrations.tasks import webhook_deliver_task

    grace = timedelta(seconds=settings.REDISPATCH_AFTER_SECONDS)
    due = (now or timezone.now()) - grace
    sent = redispatch(
        WebhookDelivery.objects.filter(status=_S.PENDING, next_attempt_at__lt=due),
        webhook_deliver_task,
        limit=limit,
    )
    if sent:
        logger.info("re-dispatch sweep sent %d webhook deliveries", sent)
    return sent
