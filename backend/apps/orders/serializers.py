"""Order and checkout shapes: strict inputs, output-only orders. No business rules here.

Nothing a client sends can set a price, a total, a status or an owner: order
serializers are read-only, and input serializers refuse unknown fields (400).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import URLValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.orders.models import Fulfilment, FulfilmentLine, Order, OrderEvent, OrderLine
from apps.payments.models import Payment
from apps.payments.serializers import ReturnUrlField
from utils.serializers import (
    CountryField,
    InputSerializer,
    MoneyField,
    StrictBooleanField,
    StrictIntegerField,
)

# --- Inputs ----------------------------------------------------------------------------


class OrderAddressInputSerializer(InputSerializer):
    """A postal address; `country` is ISO 3166-1 alpha-2 (upper-cased)."""

    name = serializers.CharField(max_length=200)
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    postal_code = serializers.CharField(max_length=20)
    country = CountryField()
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")


class CheckoutPaymentInputSerializer(InputSerializer):
    """How the buyer pays: a provider and its token."""

    # The providers are those of settings.PAYMENT_PROVIDERS.

    provider = serializers.ChoiceField(choices=[])
    token = serializers.CharField(max_length=255)
    return_url = ReturnUrlField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = list(settings.PAYMENT_PROVIDERS)  # type: ignore[attr-defined]


class CheckoutInputSerializer(InputSerializer):
    """What checkout needs besides the cart. Unknown fields (prices, totals) are a 400."""

    email = serializers.EmailField(
        max_length=254,
        required=False,
        help_text="Required for a guest; defaults to the signed-in user's address.",
    )
    shipping_address = OrderAddressInputSerializer()
    billing_address = OrderAddressInputSerializer(
        required=False, allow_null=True, default=None, help_text="null: same as shipping."
    )
    shipping_method = serializers.SlugField(
        max_length=32,
        help_text="A code from GET /carts/{id}/shipping-methods/?country=… for this address.",
    )
    payment = CheckoutPaymentInputSerializer()


class OrderCancelInputSerializer(InputSerializer):
    """An optional reason, kept on the timeline."""

    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class OrderFulfilInputSerializer(InputSerializer):
    """The shipment: carrier and tracking number."""

    carrier = serializers.CharField(max_length=100)
    tracking_number = serializers.CharField(max_length=100)


class FulfilmentLineInputSerializer(InputSerializer):
    # JSON integers only: DRF's IntegerField would also take "2", 2.0 and "2.0".
    line = StrictIntegerField(min_value=1, max_value=2**63 - 1, help_text="An order line id.")
    quantity = StrictIntegerField(min_value=1, max_value=100000)


class FulfilmentCreateInputSerializer(InputSerializer):
    """A parcel: units of some lines, the warehouse it leaves from, and its tracking."""

    lines = serializers.ListField(
        child=FulfilmentLineInputSerializer(), allow_empty=False, max_length=1000
    )
    warehouse = serializers.SlugField(max_length=32, help_text="A warehouse code.")
    carrier = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    tracking_number = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    # A CharField with the URL check: "" (no link) is allowed, and the document says so.
    tracking_url = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        validators=[URLValidator(schemes=["http", "https"])],
        help_text='An http or https URL; "" for none.',
    )
    ship = StrictBooleanField(
        required=False, default=False, help_text="true: shipped at once (else pending)."
    )

    def validate_lines(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [item["line"] for item in lines]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError("Each line may be named once.")
        return lines


# --- Outputs ---------------------------------------------------------------------------


class OrderAddressOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    line1 = serializers.CharField()
    line2 = serializers.CharField()
    city = serializers.CharField()
    postal_code = serializers.CharField()
    country = serializers.CharField()
    phone = serializers.CharField()


class OrderLineOutputSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="product_name", read_only=True)
    unit_price = MoneyField(read_only=True, help_text="After the promotion.")
    undiscounted_unit_price = MoneyField(read_only=True)
    discount = MoneyField(read_only=True, help_text="Promotion and voucher, for the line.")
    net = MoneyField(read_only=True)
    tax_rate = serializers.DecimalField(max_digits=5, decimal_places=2, read_only=True)
    tax = MoneyField(read_only=True)
    line_total = MoneyField(read_only=True, help_text="Gross: net + tax.")

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "variant_id",
            "sku",
            "name",
            "variant_name",
            "unit_price",
            "undiscounted_unit_price",
            "quantity",
            "discount",
            "net",
            "tax_rate",
            "tax",
            "line_total",
        ]
        read_only_fields = fields


class OrderDiscountOutputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["voucher", "promotion"], read_only=True)
    code = serializers.CharField(read_only=True, help_text='The voucher code; "" for a sale.')
    name = serializers.CharField(read_only=True)
    amount = MoneyField(read_only=True)


class OrderPaymentOutputSerializer(serializers.ModelSerializer):
    amount = MoneyField(read_only=True)

    class Meta:
        model = Payment
        fields = ["id", "provider", "status", "amount", "currency"]
        read_only_fields = fields


class FulfilmentLineOutputSerializer(serializers.ModelSerializer):
    line = serializers.IntegerField(source="line_id", read_only=True)
    sku = serializers.CharField(source="line.sku", read_only=True)

    class Meta:
        model = FulfilmentLine
        fields = ["line", "sku", "quantity"]
        read_only_fields = fields


class FulfilmentOutputSerializer(serializers.ModelSerializer):
    """A parcel with its tracking; `pending` until handed to the carrier."""

    # Read through ``selectors.fulfilment_queryset`` (warehouse joined, lines with their
    # order line prefetched): a fixed number of queries whatever the lines.

    warehouse = serializers.CharField(source="warehouse.code", read_only=True)
    tracking_url = serializers.CharField(read_only=True, help_text='A URL, or "" for none.')
    lines = FulfilmentLineOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Fulfilment
        fields = [
            "number",
            "status",
            "warehouse",
            "carrier",
            "tracking_number",
            "tracking_url",
            "created_at",
            "shipped_at",
            "cancelled_at",
            "lines",
        ]
        read_only_fields = fields


class OrderOutputSerializer(serializers.ModelSerializer):
    """An order with its lines, addresses and latest payment.

    `access_token` is a guest's token for the `X-Order-Token` header: shown once, in the
    checkout response, and null everywhere else.
    """

    # The queryset prefetches lines and payments; checkout, which has just written them,
    # passes ``lines`` and ``payment`` in the context instead (one order only), and the
    # guest's token too.

    subtotal = MoneyField(read_only=True)
    discount = MoneyField(source="discount_total", read_only=True)
    shipping = MoneyField(source="shipping_total", read_only=True, help_text="Before discount.")
    tax = MoneyField(source="tax_total", read_only=True)
    total = MoneyField(read_only=True)
    discounts = OrderDiscountOutputSerializer(many=True, read_only=True)
    refunded_total = MoneyField(read_only=True)
    lines = serializers.SerializerMethodField()
    shipping_address = OrderAddressOutputSerializer(read_only=True)
    billing_address = OrderAddressOutputSerializer(read_only=True, allow_null=True)
    payment = serializers.SerializerMethodField()
    fulfilments = serializers.SerializerMethodField()
    access_token = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "number",
            "status",
            "email",
            "currency",
            "lines",
            "subtotal",
            "discount",
            "shipping",
            "tax",
            "total",
            "prices_include_tax",
            "voucher_code",
            "discounts",
            "refunded_total",
            "shipping_method",
            "shipping_address",
            "billing_address",
            "payment",
            "payment_deadline",
            "paid_at",
            "fulfilled_at",
            "cancelled_at",
            "carrier",
            "tracking_number",
            "fulfilments",
            "created_at",
            "updated_at",
            "access_token",
        ]
        read_only_fields = fields

    @extend_schema_field(OrderLineOutputSerializer(many=True))
    def get_lines(self, order: Order) -> list[Any]:
        lines = self.context.get("lines")
        if lines is None:
            lines = order.lines.all()
        return list(OrderLineOutputSerializer(lines, many=True).data)

    @extend_schema_field(OrderPaymentOutputSerializer(allow_null=True))
    def get_payment(self, order: Order) -> dict[str, Any] | None:
        payment = self.context.get("payment")
        if payment is None:
            payments = list(order.payments.all())  # newest first (Payment.Meta.ordering)
            payment = payments[0] if payments else None
        return dict(OrderPaymentOutputSerializer(payment).data) if payment else None

    @extend_schema_field(FulfilmentOutputSerializer(many=True))
    def get_fulfilments(self, order: Order) -> list[Any]:
        if self.context.get("lines") is not None:
            return []  # checkout's answer: an order just written has no parcel yet
        fulfilments = self.context.get("fulfilments")
        if fulfilments is None:
            fulfilments = order.fulfilments.all()  # prefetched by order_detail_prefetch
        return list(FulfilmentOutputSerializer(fulfilments, many=True).data)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_access_token(self, order: Order) -> str | None:
        token = self.context.get("access_token")
        return str(token) if token else None


class OrderEventOutputSerializer(serializers.ModelSerializer):
    """One step of the timeline; `from`/`to` are statuses ("" before the first)."""

    from_ = serializers.CharField(source="from_status", read_only=True)
    to = serializers.CharField(source="to_status", read_only=True)
    actor = serializers.SerializerMethodField()
    time = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = OrderEvent
        fields = ["id", "from_", "to", "actor", "actor_kind", "time", "note", "trace_id"]
        read_only_fields = fields

    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword: declared as from_, published as from.
        return {
            ("from" if name == "from_" else name): field
            for name, field in super().get_fields().items()
        }

    @extend_schema_field(serializers.EmailField(allow_null=True))
    def get_actor(self, event: OrderEvent) -> str | None:
        return event.actor.email if event.actor is not None else None
