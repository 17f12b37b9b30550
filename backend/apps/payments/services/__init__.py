"""Writes for payments: capture, refunds, webhooks. Import from here.

- ``payments``: ``payment_capture``, ``payment_retry`` (pay again),
  ``payment_refresh``, ``payment_cancel_at_provider`` (abandoned payments);
- ``apply``: ``payment_apply_result`` (shared by the capture task, webhooks, the
  sandbox bank page and ``payment_refresh``) and ``payment_apply_charge_result``;
- ``refunds``: ``refund_create``, ``refund_process``, ``refund_apply_result``,
  ``refund_external_record`` (refunds made at the provider); ``refund_plan``: the tax
  inside a refund and the units it restocks;
- ``webhooks``: ``webhook_receive``, ``webhook_event_process``;
- ``sweeps``: ``payment_work_redispatch`` (the re-dispatch sweep);
- ``locks``: ``payment_lock_with_order``, the order-then-payment row locks they share.
"""

from __future__ import annotations

from apps.payments.services.apply import payment_apply_charge_result, payment_apply_result
from apps.payments.services.payments import (
    payment_cancel_at_provider,
    payment_capture,
    payment_refresh,
    payment_retry,
    payment_retry_scheduled,
    payment_sandbox_authenticate,
    provider_for,
)
from apps.payments.services.refunds import (
    refund_apply_result,
    refund_create,
    refund_external_record,
    refund_process,
    refund_retry_scheduled,
)
from apps.payments.services.results import Applied, PaymentOutcome, RefundOutcome
from apps.payments.services.sweeps import payment_work_redispatch
from apps.payments.services.webhooks import webhook_event_process, webhook_receive

__all__ = [
    "Applied",
    "PaymentOutcome",
    "RefundOutcome",
    "payment_apply_charge_result",
    "payment_apply_result",
    "payment_cancel_at_provider",
    "payment_capture",
    "payment_refresh",
    "payment_retry",
    "payment_retry_scheduled",
    "payment_sandbox_authenticate",
    "payment_work_redispatch",
    "provider_for",
    "refund_apply_result",
    "refund_create",
    "refund_external_record",
    "refund_process",
    "refund_retry_scheduled",
    "webhook_event_process",
    "webhook_receive",
]
