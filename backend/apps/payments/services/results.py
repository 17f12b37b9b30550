"""What applying a provider result did: the answer the capture task and webhooks share."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from apps.payments.models import Payment, Refund


class Applied(StrEnum):
    APPLIED = "applied"  # the state changed
    UNCHANGED = "unchanged"  # already in that state (a duplicate or the other path won)
    STALE = "stale"  # contradicts a final state (failed after captured): changes nothing
    ERROR = "error"  # cannot be applied safely; recorded for ops, never silently dropped


@dataclass(frozen=True)
class PaymentOutcome:
    payment: Payment
    result: Applied
    note: str = ""


@dataclass(frozen=True)
class RefundOutcome:
    refund: Refund
    result: Applied
    note: str = ""
