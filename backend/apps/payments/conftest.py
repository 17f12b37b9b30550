"""Fixtures for payment tests: webhook posting, paying an order again, and the emails an
order queued."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.notifications.models import EmailLog
from apps.orders.models import Order
from apps.payments.providers.sandbox import sandbox_sign

WEBHOOK_URL = "/api/v1/payments/webhooks/{provider}/"
VISA = {"provider": "sandbox", "token": "tok_visa"}


def post_webhook(
    client: APIClient, body: bytes, headers: dict[str, str] | None = None, provider: str = "sandbox"
) -> Any:
    """POST a body byte for byte (valid UTF-8 round-trips exactly), headers as HTTP headers."""
    meta: dict[str, Any] = {
        f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()
    }
    return client.generic(
        "POST",
        WEBHOOK_URL.format(provider=provider),
        data=body.decode("utf-8"),
        content_type="application/json",
        **meta,
    )


def pay_again(client: APIClient, order: Order, body: Any = VISA, **headers: Any) -> Any:
    """POST ``/orders/{id}/pay/``: pay ``order`` again (with the sandbox card by default)."""
    return client.post(f"/api/v1/orders/{order.pk}/pay/", body, format="json", **headers)


@pytest.fixture
def send_webhook(api_client: APIClient) -> Callable[..., Any]:
    """Sign ``body`` with the sandbox secret and POST it."""

    def send(body: bytes, **sign: Any) -> Any:
        return post_webhook(api_client, body, sandbox_sign(body, **sign))

    return send


def emails(order: Order) -> list[tuple[str, str]]:
    """(kind, status) of every email queued for the order, oldest first."""
    return list(
        EmailLog.objects.filter(order=order).order_by("created_at").values_list("kind", "status")
    )
