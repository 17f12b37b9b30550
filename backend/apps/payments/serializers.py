"""Payment, refund and webhook input/output shapes. No business rules here.

Money goes out as a two-place string beside its currency (``utils.decimal_utils``);
input serializers refuse unknown fields.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.payments.models import Payment, Refund, WebhookEvent
from apps.payments.providers import provider_names
from utils.serializers import InputSerializer, MoneyField, StrictBooleanField, StrictIntegerField


class ReturnUrlField(serializers.CharField):
    """Where the customer comes back after authenticating (3-D Secure): an absolute
    http(s) URL on one of the hosts of ``PAYMENT_RETURN_URL_HOSTS``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", "")
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault(
            "help_text",
            "Optional. Where the provider sends the customer back after authentication "
            "(3-D Secure): http or https, on a host the shop allows (PAYMENT_RETURN_URL_HOSTS).",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not value:
            return ""
        try:
            parts = urlsplit(value)
            host = (parts.hostname or "").lower()
        except ValueError as exc:
            raise serializers.ValidationError("Not a valid URL.") from exc
        if parts.scheme not in ("http", "https") or not host:
            raise serializers.ValidationError("Must be an absolute http or https URL.")
        if parts.username or parts.password:
            raise serializers.ValidationError("Must not carry credentials.")
        allowed = [h.lower() for h in settings.PAYMENT_RETURN_URL_HOSTS]
        if host not in allowed:
            raise serializers.ValidationError(
                f"The host {host!r} is not allowed (PAYMENT_RETURN_URL_HOSTS: "
                f"{', '.join(allowed) or 'none configured'})."
            )
        return value


class PayInputSerializer(InputSerializer):
    provider = serializers.ChoiceField(choices=[], help_text="The payment provider.")
    token = serializers.CharField(
        max_length=255,
        help_text="Sandbox: tok_visa, tok_requiresAction, ...; Stripe: a PaymentMethod id.",
    )
    return_url = ReturnUrlField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The providers this deployment accepts (an enum in the schema, as at checkout).
        self.fields["provider"].choices = provider_names()  # type: ignore[attr-defined]


class RefundLineInputSerializer(InputSerializer):
    # JSON integers only: DRF's IntegerField would also take "2", 2.0 and "2.0".
    line_id = StrictIntegerField(required=False, min_value=1, max_value=2**63 - 1)
    sku = serializers.CharField(required=False, max_length=64)
    quantity = StrictIntegerField(min_value=1, max_value=100000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("line_id" in attrs) == ("sku" in attrs):
            raise serializers.ValidationError("Give either line_id or sku.")
        return attrs


class RefundInputSerializer(InputSerializer):
    amount = MoneyField(
        allow_zero=False,
        allow_null=True,
        required=False,
        default=None,
        help_text="Up to what is left to refund; null or absent: all of it.",
    )
    restock = StrictBooleanField(required=False, default=False)
    reason = serializers.CharField(required=False, default="", allow_blank=True, max_length=500)
    lines = RefundLineInputSerializer(
        many=True,
        required=False,
        help_text="With restock: the units to put back (required for a partial refund).",
    )


class RestockLineOutputSerializer(serializers.Serializer):
    line_id = serializers.IntegerField(read_only=True)
    sku = serializers.CharField(read_only=True)
    quantity = serializers.IntegerField(read_only=True)


class RefundOutputSerializer(serializers.ModelSerializer):
    amount = MoneyField(read_only=True)
    tax_amount = MoneyField(
        read_only=True, help_text="The tax inside amount, prorated on the order's tax."
    )
    restock_lines = RestockLineOutputSerializer(many=True, read_only=True)
    order = serializers.UUIDField(source="order_id", read_only=True)
    payment = serializers.UUIDField(source="payment_id", read_only=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "order",
            "payment",
            "amount",
            "tax_amount",
            "currency",
            "status",
            "reason",
            "restock",
            "restock_lines",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields


class RedirectToUrlOutputSerializer(serializers.Serializer):
    url = serializers.CharField(read_only=True, help_text="Send the customer here.")
    return_url = serializers.CharField(read_only=True, allow_null=True)


class NextActionOutputSerializer(serializers.Serializer):
    """What the customer must do next: Stripe's `next_action` as Stripe sent it
    (`use_stripe_sdk`: give the payment's `client_secret` to Stripe.js
    `handleNextAction`), or `redirect_to_url` (the sandbox; Stripe with a `return_url`)."""

    type = serializers.CharField(read_only=True, help_text="redirect_to_url, use_stripe_sdk, ...")
    redirect_to_url = RedirectToUrlOutputSerializer(read_only=True, required=False)


class PaymentOutputSerializer(serializers.ModelSerializer):
    """A payment. `next_action` and `client_secret` are filled only for the order's owner
    while the payment is `requires_action`; null in every other answer (staff, lists,
    the `pay` answer that idempotent replays return)."""

    # The owner's view is asked for with show_action=True in the serializer's context.

    amount = MoneyField(read_only=True)
    refunded_amount = MoneyField(read_only=True)
    order = serializers.UUIDField(source="order_id", read_only=True)
    refunds = RefundOutputSerializer(many=True, read_only=True)
    next_action = serializers.SerializerMethodField()
    client_secret = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "order",
            "provider",
            "status",
            "amount",
            "currency",
            "refunded_amount",
            "failure_code",
            "failure_message",
            "attempts",
            "created_at",
            "captured_at",
            "refunds",
            "return_url",
            "next_action",
            "client_secret",
        ]
        read_only_fields = fields

    def _action_shown(self, payment: Payment) -> bool:
        return bool(self.context.get("show_action")) and (
            payment.status == Payment.Status.REQUIRES_ACTION
        )

    @extend_schema_field(NextActionOutputSerializer(allow_null=True))
    def get_next_action(self, payment: Payment) -> dict[str, Any] | None:
        if not self._action_shown(payment) or not payment.next_action:
            return None
        action = dict(payment.next_action)
        redirect = action.get("redirect_to_url")
        request = self.context.get("request")
        if isinstance(redirect, dict) and request is not None:
            url = redirect.get("url")
            if isinstance(url, str) and url.startswith("/"):  # the sandbox's bank page
                action["redirect_to_url"] = {**redirect, "url": request.build_absolute_uri(url)}
        return action

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_client_secret(self, payment: Payment) -> str | None:
        """Stripe's PaymentIntent client secret, for Stripe.js (null for the sandbox)."""
        if not self._action_shown(payment):
            return None
        return payment.client_secret or None


class WebhookAckOutputSerializer(serializers.ModelSerializer):
    duplicate = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEvent
        fields = ["event_id", "type", "status", "duplicate"]
        read_only_fields = fields

    def get_duplicate(self, event: WebhookEvent) -> bool:
        return bool(self.context.get("duplicate", False))
