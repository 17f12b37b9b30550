"""The order answer built by ``output.order_output`` (checkout's and ``GET /orders/{id}/``)
is byte for byte what ``OrderOutputSerializer`` (the OpenAPI description) renders with the
same context: a guest's and a signed-in owner's order, gross and net shop prices, a
promotion and a voucher, a billing address or none, each payment state, parcels."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from apps.accounts.factories import ADDRESS
from apps.accounts.models import User
from apps.cart.factories import cart_create
from apps.catalog.models import Variant
from apps.catalog.stock import warehouse_default
from apps.orders import views
from apps.orders.factories import CHECKOUT_BODY, checkout_url
from apps.orders.fulfilments import fulfilment_create
from apps.orders.models import Order
from apps.orders.output import order_output
from apps.orders.serializers import OrderOutputSerializer
from apps.payments.models import Payment
from apps.payments.services import payment_capture
from apps.pricing.factories import promotion_create, tax_rate_create, voucher_create
from utils.testing import AnswerSpy, answer_spy_installed, render_json

pytestmark = pytest.mark.django_db


def _serialized(order: Order, options: dict[str, Any]) -> bytes:
    """The serializer's answer for the builder's keywords (its context)."""
    context = {name: value for name, value in options.items() if value is not None}
    return render_json(OrderOutputSerializer(order, context=context).data)


class Compared(AnswerSpy):
    """Each order answer the views built, rendered by the builder and by the serializer."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Order, dict[str, Any]]] = []

    def __call__(self, order: Order, **options: Any) -> dict[str, Any]:
        built = order_output(order, **options)
        self.calls.append((order, options))
        return self.record(built, _serialized(order, options))


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> Iterator[Compared]:
    yield from answer_spy_installed(Compared(), monkeypatch, views, "order_output")


def _body(token: str = "tok_visa", **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(CHECKOUT_BODY)
    body["payment"]["token"] = token
    body.update(changes)
    return body


def _cart_lines(make_variant: Callable[..., Variant]) -> list[tuple[Variant, int]]:
    tax_rate_create("DE", "19.00")
    shirt = make_variant(sku="SHIRT-M", price="19.99", stock=9)
    mug = make_variant(sku="MUG-«☕»", price="7.35", stock=9)
    cap = make_variant(sku="CAP", price="12.50", stock=9)
    promotion_create("Shirt week", product_ids=[shirt.product_id], value=Decimal("15"))
    voucher_create("WELCOME10")
    return [(shirt, 2), (mug, 3), (cap, 1)]


def _get(client: APIClient, body: dict[str, Any]) -> Any:
    token = body["access_token"]
    headers = {"HTTP_X_ORDER_TOKEN": token} if token else {}
    return client.get(f"/api/v1/orders/{body['id']}/", **headers)


@pytest.mark.parametrize("prices_include_tax", [True, False], ids=["gross", "net"])
@pytest.mark.parametrize("who", ["guest", "owner"])
def test_checkout_and_order_reads_answer_with_the_serializers_bytes(
    prices_include_tax: bool,
    who: str,
    compared: Compared,
    api_client: APIClient,
    customer_client: APIClient,
    customer: User,
    staff: User,
    make_variant: Callable[..., Variant],
) -> None:
    owner = customer if who == "owner" else None
    client = customer_client if owner else api_client
    lines = _cart_lines(make_variant)
    cart = cart_create(user=owner, lines=lines)
    cart.voucher = voucher_create("SPRING5", value=Decimal("5"))
    cart.save(update_fields=["voucher"])
    billing = {**ADDRESS, "name": "Zoë Ünïcode", "line2": "", "country": "at"}
    with override_settings(PRICES_INCLUDE_TAX=prices_include_tax):
        body = _body(billing_address=billing)
        if owner:
            del body["email"]
        created = compared.check(client.post(checkout_url(cart), body, format="json"), 201)
    assert created["payment"]["status"] == "pending"  # captured after commit, by a task
    assert (created["access_token"] is None) == (owner is not None)
    assert [d["kind"] for d in created["discounts"]] == ["promotion", "voucher"]
    assert created["billing_address"]["country"] == "AT"
    read = compared.check(_get(client, created))
    assert (read["access_token"], read["fulfilments"]) == (None, [])
    payment_capture(payment_id=created["payment"]["id"])
    paid = compared.check(_get(client, created))
    assert (paid["status"], paid["payment"]["status"]) == ("paid", "captured")
    order = Order.objects.get(pk=created["id"])
    warehouse = warehouse_default().code
    first, second, _ = order.lines.order_by("id")
    fulfilment_create(
        order=order,
        lines=[{"line": first.pk, "quantity": 2}],
        warehouse=warehouse,
        carrier="DHL",
        tracking_number="JD0001",
        tracking_url="https://tracking.example.com/JD0001",
        ship=True,
        actor=staff,
    )
    fulfilment_create(
        order=order, lines=[{"line": second.pk, "quantity": 1}], warehouse=warehouse, actor=staff
    )
    parcels = compared.check(_get(client, created))["fulfilments"]
    assert [(p["status"], len(p["lines"])) for p in parcels] == [("shipped", 1), ("pending", 1)]


@pytest.mark.parametrize(
    ("token", "status"),
    [
        ("tok_visa", "captured"),
        ("tok_chargeDeclined", "failed"),
        ("tok_requiresAction", "requires_action"),
    ],
)
def test_each_payment_outcome_reads_with_the_serializers_bytes(
    token: str,
    status: str,
    compared: Compared,
    api_client: APIClient,
    make_variant: Callable[..., Variant],
) -> None:
    cart = cart_create(lines=[(make_variant(price="9.99"), 2)])
    created = compared.check(api_client.post(checkout_url(cart), _body(token), format="json"), 201)
    payment_capture(payment_id=created["payment"]["id"])
    read = compared.check(_get(api_client, created))
    assert read["payment"]["status"] == status
    assert created["billing_address"] is None


def test_every_order_and_payment_status_renders_the_serializers_bytes(
    compared: Compared, api_client: APIClient, make_variant: Callable[..., Variant]
) -> None:
    """Checkout's answer with each status an order and its payment can have (in memory)."""
    cart = cart_create(lines=_cart_lines(make_variant))
    compared.check(api_client.post(checkout_url(cart), _body(), format="json"), 201)
    order, options = compared.calls[-1]
    payment = options["payment"]
    assert isinstance(payment, Payment)
    for order_status in Order.Status.values:
        for payment_status in Payment.Status.values:
            order.status, payment.status = order_status, payment_status
            assert render_json(order_output(order, **options)) == _serialized(order, options)
