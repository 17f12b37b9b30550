"""The payment provider interface, its result types and its exception family.

A provider charges a payment method under an idempotency key (a repeat with the
same key never charges twice), refunds, reports a payment's status, and
verifies and parses its own webhooks into a ``ProviderEvent``. Declines and
outages are exceptions with stable codes (``payment_declined``,
``provider_unavailable``, ``invalid_signature``), so callers tell a customer's
problem from a provider's.

What does not belong here: our models. Providers see amounts, tokens and keys,
never a ``Payment`` row; the services in ``apps.payments.services`` apply results.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from rest_framework import status

from utils.errors import SIGNATURE_REASONS as SIGNATURE_REASONS  # re-exported
from utils.errors import ApplicationError
from utils.errors import InvalidSignatureError as InvalidSignatureError  # re-exported

# --- Exceptions -------------------------------------------------------------------------


class PaymentProviderError(ApplicationError):
    """The provider refused a request for a reason that retrying will not fix."""

    code = "payment_provider_error"
    status_code: int = status.HTTP_502_BAD_GATEWAY
    message = "The payment provider refused the request."

    def __init__(self, message: str | None = None, *, reason: str = "provider_error") -> None:
        super().__init__(message, details={"reason": reason})
        self.reason = reason


class PaymentDeclinedError(PaymentProviderError):
    """The customer's payment method was declined (``decline_code`` says why)."""

    code = "payment_declined"
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    message = "The payment was declined."

    def __init__(self, decline_code: str, message: str | None = None) -> None:
        super().__init__(message, reason=decline_code)
        self.decline_code = decline_code


class ProviderUnavailableError(PaymentProviderError):
    """A transient failure (timeout, 5xx, rate limit): the same request may succeed later."""

    code = "provider_unavailable"
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    message = "The payment provider is unavailable."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, reason="provider_unavailable")


class WebhookPayloadError(ApplicationError):
    """A correctly signed webhook whose body is not an event we can read."""

    code = "parse_error"
    status_code = status.HTTP_400_BAD_REQUEST
    message = "The webhook body is not a valid event."


# --- Results ----------------------------------------------------------------------------


class ChargeStatus(StrEnum):
    SUCCEEDED = "succeeded"
    # Waiting for the customer or the provider: a webhook settles it.
    REQUIRES_ACTION = "requires_action"
    FAILED = "failed"  # only from fetch_status(); charge() raises PaymentDeclinedError
    CANCELED = "canceled"  # only from fetch_status() / cancel()


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
    reference: str  # the provider's id of the charge (Stripe: the PaymentIntent id)
    failure_code: str = ""
    failure_message: str = ""
    # While REQUIRES_ACTION: what the client needs to continue (never logged).
    client_secret: str = field(default="", repr=False)
    next_action: Mapping[str, Any] | None = field(default=None, repr=False)


class RefundStatus(StrEnum):
    SUCCEEDED = "succeeded"
    PENDING = "pending"  # the provider settles it later and tells us by webhook


@dataclass(frozen=True)
class RefundResult:
    status: RefundStatus
    reference: str


class EventKind(StrEnum):
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_REQUIRES_ACTION = "payment_requires_action"
    PAYMENT_CANCELED = "payment_canceled"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"
    REFUND_PENDING = "refund_pending"  # accepted, not settled yet: recorded, not applied
    UNHANDLED = "unhandled"  # stored for the record, never applied


@dataclass(frozen=True)
class ProviderEvent:
    """A webhook event in the provider-neutral shape the services apply."""

    event_id: str
    type: str  # the provider's own name, e.g. "payment_intent.succeeded"
    kind: EventKind
    payload: dict[str, Any] = field(repr=False)
    payment_id: str = ""  # our Payment id, when the provider echoes our metadata
    payment_reference: str = ""  # the provider's id of the payment
    amount: Decimal | None = None
    currency: str = ""
    failure_code: str = ""
    failure_message: str = ""
    refund_id: str = ""  # our Refund id, when echoed
    refund_reference: str = ""  # the provider's id of the refund
    refunded_total: Decimal | None = None  # cumulative, when that is all the provider says
    # payment_requires_action: what the client needs to continue (never logged).
    client_secret: str = field(default="", repr=False)
    next_action: Mapping[str, Any] | None = field(default=None, repr=False)

    def charge_result(self) -> ChargeResult:
        """A payment event as the ``ChargeResult`` it reports (a ``payment_*`` kind only)."""
        return ChargeResult(
            status=_EVENT_CHARGE_STATUS[self.kind],
            reference=self.payment_reference,
            failure_code=self.failure_code,
            failure_message=self.failure_message,
            client_secret=self.client_secret,
            next_action=self.next_action,
        )


_EVENT_CHARGE_STATUS: dict[EventKind, ChargeStatus] = {
    EventKind.PAYMENT_SUCCEEDED: ChargeStatus.SUCCEEDED,
    EventKind.PAYMENT_FAILED: ChargeStatus.FAILED,
    EventKind.PAYMENT_REQUIRES_ACTION: ChargeStatus.REQUIRES_ACTION,
    EventKind.PAYMENT_CANCELED: ChargeStatus.CANCELED,
}


# --- Requests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargeRequest:
    """The arguments of ``PaymentProvider.charge``, as one value for the provider."""

    amount: Decimal
    currency: str
    token: str
    idempotency_key: str
    metadata: Mapping[str, str]
    return_url: str = ""


@dataclass(frozen=True)
class RefundRequest:
    """The arguments of ``PaymentProvider.refund``, as one value for the provider."""

    payment_reference: str
    amount: Decimal
    currency: str
    idempotency_key: str
    metadata: Mapping[str, str]


# --- Interface --------------------------------------------------------------------------


class PaymentProvider(ABC):
    name: ClassVar[str]
    signature_header: ClassVar[str]

    def charge(
        self,
        *,
        amount: Decimal,
        currency: str,
        token: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
        return_url: str = "",
    ) -> ChargeResult:
        """Charge and capture; raise ``PaymentDeclinedError`` or ``ProviderUnavailableError``.

        ``return_url``: where a customer who must authenticate (3-D Secure) comes back to.
        """
        return self.charge_request(
            ChargeRequest(amount, currency, token, idempotency_key, metadata, return_url)
        )

    @abstractmethod
    def charge_request(self, request: ChargeRequest) -> ChargeResult:
        """The provider's own ``charge`` of ``request`` (same contract)."""

    @abstractmethod
    def cancel(self, *, payment_reference: str) -> ChargeResult:
        """Cancel a charge that has not succeeded (abandoned by paying again).

        Returns the charge's status afterwards: ``CANCELED``, or ``SUCCEEDED`` /
        ``FAILED`` when it had already settled and could not be cancelled.
        """

    def refund(
        self,
        *,
        payment_reference: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> RefundResult:
        """Refund part or all of a charge; raise ``PaymentProviderError`` subclasses."""
        return self.refund_request(
            RefundRequest(payment_reference, amount, currency, idempotency_key, metadata)
        )

    @abstractmethod
    def refund_request(self, request: RefundRequest) -> RefundResult:
        """The provider's own ``refund`` of ``request`` (same contract)."""

    @abstractmethod
    def fetch_status(self, *, payment_reference: str) -> ChargeResult:
        """The provider's current view of a payment (for reconciliation by ops)."""

    @abstractmethod
    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        """Check the signature of the raw body, then parse it; ``InvalidSignatureError`` first."""

    @abstractmethod
    def parse_event(self, payload: Mapping[str, Any]) -> ProviderEvent:
        """Normalize an already verified payload; ``WebhookPayloadError`` if unreadable."""

    def verify_and_parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        return self.parse_event(self.verify_webhook(body=body, headers=headers))
