"""The sandbox provider: every token's path, idempotent charges, refunds, signed webhooks."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.test import override_settings

from apps.payments.models import SandboxCharge, SandboxRefund
from apps.payments.providers import get_provider, provider_names
from apps.payments.providers.base import (
    ChargeResult,
    ChargeStatus,
    EventKind,
    InvalidSignatureError,
    PaymentDeclinedError,
    PaymentProviderError,
    ProviderUnavailableError,
    RefundResult,
    RefundStatus,
    WebhookPayloadError,
)
from apps.payments.providers.sandbox import SandboxProvider, sandbox_event_body, sandbox_sign
from utils import signing
from utils.errors import NotFoundError

SECRET = "whsec_sandbox_test_secret"
AMOUNT = Decimal("12.50")


def _charge(token: str, key: str = "payment-1") -> ChargeResult:
    return SandboxProvider().charge(
        amount=AMOUNT, currency="EUR", token=token, idempotency_key=key, metadata={}
    )


@pytest.mark.django_db
def test_tok_visa_charges_once_per_idempotency_key() -> None:
    first = _charge("tok_visa")
    again = _charge("tok_visa")
    assert first == again
    assert first.status == ChargeStatus.SUCCEEDED
    charge = SandboxCharge.objects.get()
    assert charge.status == SandboxCharge.Status.SUCCEEDED
    assert charge.calls == 2
    assert charge.id == first.reference
    _charge("tok_visa", key="payment-2")
    assert SandboxCharge.objects.filter(status="succeeded").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("tok_chargeDeclined", "card_declined"),
        ("tok_insufficientFunds", "insufficient_funds"),
        ("tok_madeUp", "invalid_token"),
    ],
)
def test_declining_tokens_raise_with_their_reason_every_time(token: str, code: str) -> None:
    for _ in range(2):
        with pytest.raises(PaymentDeclinedError) as caught:
            _charge(token)
        assert caught.value.decline_code == code
        assert caught.value.code == "payment_declined"
    charge = SandboxCharge.objects.get()
    assert (charge.status, charge.decline_code, charge.calls) == ("declined", code, 2)


@pytest.mark.django_db
def test_tok_timeout_fails_twice_per_key_then_succeeds() -> None:
    for _ in range(2):
        with pytest.raises(ProviderUnavailableError) as caught:
            _charge("tok_timeout")
        assert caught.value.code == "provider_unavailable"
    assert SandboxCharge.objects.get().status == SandboxCharge.Status.PROCESSING
    assert _charge("tok_timeout").status == ChargeStatus.SUCCEEDED
    # Another key starts its own count.
    with pytest.raises(ProviderUnavailableError):
        _charge("tok_timeout", key="payment-2")
    assert SandboxCharge.objects.filter(status="succeeded").count() == 1


@pytest.mark.django_db
def test_tok_requires_action_stays_requires_action() -> None:
    result = _charge("tok_requiresAction")
    assert result.status == ChargeStatus.REQUIRES_ACTION
    assert _charge("tok_requiresAction") == result
    status = SandboxProvider().fetch_status(payment_reference=result.reference)
    assert status.status == ChargeStatus.REQUIRES_ACTION


@pytest.mark.django_db
def test_fetch_status_reports_a_decline() -> None:
    with pytest.raises(PaymentDeclinedError):
        _charge("tok_chargeDeclined")
    charge = SandboxCharge.objects.get()
    status = SandboxProvider().fetch_status(payment_reference=charge.id)
    assert (status.status, status.failure_code) == (ChargeStatus.FAILED, "card_declined")


@pytest.mark.django_db
def test_refunds_are_idempotent_and_never_exceed_the_charge() -> None:
    provider = SandboxProvider()
    charge = _charge("tok_visa")

    def refund(amount: str, key: str) -> RefundResult:
        return provider.refund(
            payment_reference=charge.reference,
            amount=Decimal(amount),
            currency="EUR",
            idempotency_key=key,
            metadata={},
        )

    first = refund("10.00", "refund-1")
    assert refund("10.00", "refund-1") == first
    assert first.status == RefundStatus.SUCCEEDED
    with pytest.raises(PaymentProviderError) as caught:
        refund("2.51", "refund-2")
    assert caught.value.reason == "amount_too_large"
    refund("2.50", "refund-3")
    assert SandboxRefund.objects.count() == 2
    with pytest.raises(PaymentProviderError):
        provider.refund(
            payment_reference="ch_sbx_missing",
            amount=AMOUNT,
            currency="EUR",
            idempotency_key="refund-4",
            metadata={},
        )


def test_registry_knows_enabled_providers_only() -> None:
    assert provider_names() == ["sandbox", "stripe"]
    assert get_provider("sandbox").name == "sandbox"
    with pytest.raises(NotFoundError):
        get_provider("paypal")
    with override_settings(PAYMENT_PROVIDERS=["sandbox"]), pytest.raises(NotFoundError):
        get_provider("stripe")


# --- Signatures --------------------------------------------------------------------------

BODY = sandbox_event_body(
    event_type="payment.succeeded", payment_id="p", amount="12.50", currency="EUR", event_id="e"
)


def test_signature_round_trip_and_key_rotation() -> None:
    header = signing.signature_header(body=BODY, secret=SECRET, timestamp=1_700_000_000)
    assert signing.signature_verify(body=BODY, header=header, secret=SECRET, now=1_700_000_100)
    other = signing.signature_header(body=BODY, secret="old", timestamp=1_700_000_000)
    rotated = f"{header},v1={other.split('v1=')[1]}"
    assert signing.signature_verify(body=BODY, header=rotated, secret=SECRET, now=1_700_000_000)


def _reason(header: str | None, *, body: bytes = BODY, secret: str = SECRET, now: float) -> str:
    with pytest.raises(InvalidSignatureError) as caught:
        signing.signature_verify(body=body, header=header, secret=secret, now=now)
    assert caught.value.code == "invalid_signature"
    return str(caught.value.details["reason"])


def test_every_bad_signature_is_refused_with_its_reason() -> None:
    t = 1_700_000_000
    good = signing.signature_header(body=BODY, secret=SECRET, timestamp=t)
    assert _reason(None, now=t) == "missing_header"
    assert _reason("", now=t) == "missing_header"
    for malformed in ["garbage", "t=abc,v1=00", f"v1={'0' * 64}", f"t={t}", f"t={t},v1=xyz"]:
        assert _reason(malformed, now=t) == "malformed_header"
    assert _reason(good, secret="whsec_wrong", now=t) == "signature_mismatch"
    tampered = BODY.replace(b"12.50", b"12.51")
    assert len(tampered) == len(BODY)
    assert _reason(good, body=tampered, now=t) == "signature_mismatch"
    assert _reason(good, now=t + 301) == "timestamp_out_of_tolerance"
    assert _reason(good, now=t - 301) == "timestamp_out_of_tolerance"
    assert signing.signature_verify(body=BODY, header=good, secret=SECRET, now=t + 300) == t
    assert _reason(good, secret="", now=t) == "secret_not_configured"


@override_settings(SANDBOX_WEBHOOK_SECRET=SECRET)
def test_sandbox_parses_a_signed_event() -> None:
    event = SandboxProvider().verify_and_parse_webhook(body=BODY, headers=sandbox_sign(BODY))
    assert event.kind == EventKind.PAYMENT_SUCCEEDED
    assert (event.event_id, event.payment_id, event.amount, event.currency) == (
        "e",
        "p",
        Decimal("12.50"),
        "EUR",
    )


@override_settings(SANDBOX_WEBHOOK_SECRET=SECRET)
@pytest.mark.parametrize(
    "payload",
    [
        {"id": "e", "type": "payment.succeeded", "data": {"payment_id": "p", "currency": "EUR"}},
        {"id": "e", "type": "payment.succeeded", "data": {"payment_id": "p", "amount": 12.5}},
        {
            "id": "e",
            "type": "payment.succeeded",
            "data": {"payment_id": "p", "amount": "12.50", "currency": "EURO"},
        },
        {"type": "payment.succeeded", "data": {}},
        ["not", "an", "object"],
    ],
)
def test_signed_but_unreadable_events_are_refused(payload: object) -> None:
    body = json.dumps(payload).encode()
    with pytest.raises(WebhookPayloadError):
        SandboxProvider().verify_and_parse_webhook(body=body, headers=sandbox_sign(body))


def test_signing_helper_uses_now_by_default() -> None:
    header = signing.signature_header(body=b"{}", secret=SECRET)
    assert abs(int(header.split(",")[0][2:]) - time.time()) < 5


@pytest.mark.django_db
def test_provider_down_token_always_fails_transiently_and_never_charges() -> None:
    from apps.payments.models import SandboxCharge
    from apps.payments.providers.base import ProviderUnavailableError
    from apps.payments.providers.sandbox import SandboxProvider

    provider = SandboxProvider()
    for _ in range(4):
        with pytest.raises(ProviderUnavailableError):
            provider.charge(
                amount=Decimal("10.00"),
                currency="EUR",
                token="tok_providerDown",
                idempotency_key="payment-down",
                metadata={},
            )
    row = SandboxCharge.objects.get(idempotency_key="payment-down")
    assert row.calls == 4
    assert row.status != SandboxCharge.Status.SUCCEEDED
