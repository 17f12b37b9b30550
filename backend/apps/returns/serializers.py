"""Return shapes: strict inputs (unknown fields are a 400), output-only returns.

A client names order lines by id and says how many units; it never sends an amount:
the refund of a return is computed on the server (``return_refund_amounts``).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.payments.models import Refund
from apps.returns.models import ReturnLine, ReturnRequest
from utils.serializers import InputSerializer, MoneyField, StrictBooleanField, StrictIntegerField

MAX_LINES = 100  # more lines than any order has; a bigger list is a 400, not a long query
MAX_ID = 2**63 - 1
MAX_UNITS = 2**31 - 1

# --- Inputs ----------------------------------------------------------------------------


class ReturnLineInputSerializer(InputSerializer):
    line = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="An order line's `id`.")
    quantity = StrictIntegerField(min_value=1, max_value=MAX_UNITS)


class ReturnCreateInputSerializer(InputSerializer):
    """The lines and units to send back, and why."""

    lines: serializers.ListSerializer[dict[str, int]] = serializers.ListSerializer(
        child=ReturnLineInputSerializer(), allow_empty=False, max_length=MAX_LINES
    )
    reason = serializers.ChoiceField(choices=ReturnRequest.Reason.choices)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class ReturnActionInputSerializer(InputSerializer):
    """No fields: an empty body (or `{}`)."""


class ReturnRejectInputSerializer(InputSerializer):
    staff_note = serializers.CharField(
        max_length=1000, help_text="Why; the customer's email shows it."
    )


class ReturnReceiveLineInputSerializer(InputSerializer):
    line = StrictIntegerField(
        min_value=1, max_value=MAX_ID, help_text="An order line's `id` in this return."
    )
    quantity = StrictIntegerField(min_value=0, max_value=MAX_UNITS, help_text="Units that arrived.")
    restock = StrictBooleanField(help_text="Put the arrived units back on sale.")
    warehouse = serializers.SlugField(
        max_length=32,
        required=False,
        allow_null=True,
        default=None,
        help_text="The code of the warehouse to restock to; required with `restock: true`.",
    )


class ReturnReceiveInputSerializer(InputSerializer):
    """What arrived, per line; lines not named arrived with 0 units."""

    lines: serializers.ListSerializer[dict[str, Any]] = serializers.ListSerializer(
        child=ReturnReceiveLineInputSerializer(), allow_empty=False, max_length=MAX_LINES
    )


# --- Outputs ---------------------------------------------------------------------------


class ReturnLineOutputSerializer(serializers.ModelSerializer):
    line = serializers.IntegerField(source="line_id", read_only=True)
    sku = serializers.CharField(source="line.sku", read_only=True)
    name = serializers.CharField(source="line.product_name", read_only=True)
    warehouse = serializers.SerializerMethodField()
    refund_amount = MoneyField(
        read_only=True, help_text="This line's part of the refund (0.00 until it is asked for)."
    )
    refund_tax = MoneyField(read_only=True, help_text="The tax inside `refund_amount`.")

    class Meta:
        model = ReturnLine
        fields = [
            "line",
            "sku",
            "name",
            "quantity",
            "quantity_received",
            "restock",
            "warehouse",
            "refund_amount",
            "refund_tax",
        ]
        read_only_fields = fields

    def get_warehouse(self, obj: ReturnLine) -> str | None:
        return obj.restock_warehouse.code if obj.restock_warehouse else None


class ReturnRefundOutputSerializer(serializers.ModelSerializer):
    amount = MoneyField(read_only=True)
    tax_amount = MoneyField(read_only=True, help_text="The tax inside `amount`.")

    class Meta:
        model = Refund
        fields = ["id", "amount", "tax_amount", "currency", "status"]
        read_only_fields = fields


class ReturnOutputSerializer(serializers.ModelSerializer):
    order = serializers.UUIDField(source="order_id", read_only=True)
    order_number = serializers.CharField(source="order.number", read_only=True)
    lines = ReturnLineOutputSerializer(many=True, read_only=True)
    refund = ReturnRefundOutputSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ReturnRequest
        fields = [
            "number",
            "order",
            "order_number",
            "status",
            "reason",
            "note",
            "staff_note",
            "lines",
            "refund",
            "created_at",
            "approved_at",
            "rejected_at",
            "received_at",
            "refunded_at",
            "cancelled_at",
        ]
        read_only_fields = fields
