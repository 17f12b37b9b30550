"""Payment, refund and webhook input/output shapes. No business rules here.

Money goes out as a two-place string beside its currency (``utils.decimal_utils``);
input serializers refuse unknown fields.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.payments.models import Payment, Refund, WebhookEvent
from apps.payments.providers import provider_names
from utils.serializers import InputSerializer, MoneyField, StrictIntegerField


class PayInputSerializer(InputSerializer):
    provider = serializers.ChoiceField(choices=[], help_text="The payment provider.")
    token = serializers.CharField(
        max_length=255,
        help_text="Sandbox: tok_visa, tok_chargeDeclined, ...; Stripe: a PaymentMethod id.",
    )

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
    restock = serializers.BooleanField(required=False, default=False)
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


class PaymentOutputSerializer(serializers.ModelSerializer):
    amount = MoneyField(read_only=True)
    refunded_amount = MoneyField(read_only=True)
    order = serializers.UUIDField(source="order_id", read_only=True)
    refunds = RefundOutputSerializer(many=True, read_only=True)

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
        ]
        read_only_fields = fields


class WebhookAckOutputSerializer(serializers.ModelSerializer):
    duplicate = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEvent
        fields = ["event_id", "type", "status", "duplicate"]
        read_only_fields = fields

    def get_duplicate(self, event: WebhookEvent) -> bool:
        return bool(self.context.get("duplicate", False))
