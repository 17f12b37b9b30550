"""Pricing as a customer meets it: the cart's taxed totals, the shipping-method list,
a voucher on the cart, and checkout charging exactly what the cart showed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.cart.factories import cart_create
from apps.cart.models import Cart
from apps.catalog.factories import variant_create
from apps.catalog.models import Stock, Variant
from apps.integrations.services import event_subscriptions
from apps.orders.factories import CHECKOUT_BODY, checkout_url
from apps.orders.models import Order
from apps.orders.services import order_cancel
from apps.pricing.factories import promotion_create, tax_class_get, tax_rate_create, voucher_create
from apps.pricing.models import ShippingMethod, ShippingZone, Voucher, VoucherUsage

pytestmark = pytest.mark.django_db


def _cart_url(cart: Cart, suffix: str = "") -> str:
    return f"/api/v1/carts/{cart.pk}/{suffix}"


def _body(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(CHECKOUT_BODY)
    body.update(changes)
    return body


@pytest.fixture
def eu() -> ShippingZone:
    zone = ShippingZone.objects.create(name="EU", countries=["DE", "FR", "AT"])
    ShippingMethod.objects.create(
        zone=zone,
        code="standard",
        name="Standard",
        price=Decimal("4.90"),
        free_over=Decimal("50.00"),
        min_days=2,
        max_days=4,
    )
    ShippingMethod.objects.create(
        zone=zone,
        code="express",
        name="Express",
        rule="weight",
        price=Decimal("0"),
        tiers=[{"up_to": 1000, "price": "9.90"}, {"up_to": 5000, "price": "14.90"}],
        min_days=1,
        max_days=1,
        position=1,
    )
    tax_rate_create("DE", "19.00")
    tax_rate_create("DE", "7.00", "reduced")
    tax_rate_create("FR", "20.00")
    return zone


def _shirt(price: str = "23.80", weight: int = 300) -> Variant:
    variant = variant_create(sku=f"SHIRT-{price}-{weight}", price=price, stock=50)
    variant.weight_grams = weight
    variant.save(update_fields=["weight_grams"])
    return variant


def test_the_cart_shows_taxed_lines_and_an_estimated_summary(
    api_client: APIClient, eu: ShippingZone
) -> None:
    book = variant_create(sku="BOOK", price="10.70", stock=5)
    book.product.tax_class = tax_class_get("reduced")
    book.product.save(update_fields=["tax_class"])
    cart = cart_create(lines=[(_shirt(), 2), (book, 1)])

    body = api_client.get(_cart_url(cart)).json()

    assert [(i["sku"], i["tax_rate"], i["tax"], i["line_total"]) for i in body["items"]] == [
        ("SHIRT-23.80-300", "19.00", "7.60", "47.60"),
        ("BOOK", "7.00", "0.70", "10.70"),
    ]
    assert body["summary"] == {
        "subtotal": "58.30",
        "discount": "0.00",
        "shipping": "0.00",
        "tax": "8.30",
        "total": "58.30",
        "currency": "EUR",
        "prices_include_tax": True,
        "tax_country": "DE",
        "tax_estimated": True,
        "shipping_method": None,
    }
    priced = api_client.get(_cart_url(cart), {"country": "fr", "shipping_method": "standard"})
    summary = priced.json()["summary"]
    assert (summary["tax_country"], summary["tax_estimated"]) == ("FR", False)
    assert (summary["shipping"], summary["total"]) == ("0.00", "58.30")  # free over 50.00
    assert summary["tax"] == "7.93"  # the shirts at FR's 20 %; FR has no reduced rate: 0 %


def test_the_shipping_method_list_prices_each_method_for_this_cart(
    api_client: APIClient, eu: ShippingZone
) -> None:
    cart = cart_create(lines=[(_shirt("10.00", 400), 2)])
    methods = api_client.get(_cart_url(cart, "shipping-methods/"), {"country": "DE"}).json()
    assert [(m["code"], m["zone"], m["price"], m["min_days"]) for m in methods] == [
        ("standard", "EU", "4.90", 2),
        ("express", "EU", "9.90", 1),
    ]
    # Outside the EU zone: the rest-of-world methods (the default fixture's).
    abroad = api_client.get(_cart_url(cart, "shipping-methods/"), {"country": "JP"}).json()
    assert [(m["code"], m["zone"], m["price"]) for m in abroad] == [
        ("standard", "Rest of world", "4.90"),
        ("express", "Rest of world", "12.90"),
    ]
    # Too heavy for express's last tier: it is not offered, and checkout refuses it.
    heavy = cart_create(lines=[(_shirt("10.00", 3000), 2)])
    offered = api_client.get(_cart_url(heavy, "shipping-methods/"), {"country": "DE"}).json()
    assert [m["code"] for m in offered] == ["standard"]
    refused = api_client.post(checkout_url(heavy), _body(shipping_method="express"), format="json")
    assert refused.status_code == 409
    assert refused.json()["error"] == "shipping_unavailable"
    assert refused.json()["details"]["weight_grams"] == 6000
    assert not Order.objects.exists()
    bad = api_client.get(_cart_url(cart, "shipping-methods/"), {"country": "XX"})
    assert bad.status_code == 400


def test_checkout_charges_what_the_cart_showed_and_snapshots_it(
    api_client: APIClient, eu: ShippingZone
) -> None:
    shirt = _shirt("20.00")
    promotion_create("Winter sale", value=Decimal("25"), product_ids=[shirt.product_id])
    voucher_create("WELCOME10")
    cart = cart_create(lines=[(shirt, 2), (variant_create(sku="MUG", price="9.99"), 1)])
    applied = api_client.post(_cart_url(cart, "voucher/"), {"code": "welcome10"}, format="json")
    assert applied.status_code == 200, applied.content
    assert applied.json()["voucher"] == {"code": "WELCOME10", "applied": True, "problem": None}
    shown = api_client.get(_cart_url(cart), {"country": "DE", "shipping_method": "standard"})

    response = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")

    assert response.status_code == 201, response.content
    order = response.json()
    summary = shown.json()["summary"]
    assert (
        order["subtotal"],
        order["discount"],
        order["shipping"],
        order["tax"],
        order["total"],
    ) == (
        summary["subtotal"],
        summary["discount"],
        summary["shipping"],
        summary["tax"],
        summary["total"],
    )
    assert (order["subtotal"], order["discount"], order["total"]) == ("49.99", "14.00", "40.89")
    shirt_line = order["lines"][0]
    assert (shirt_line["undiscounted_unit_price"], shirt_line["unit_price"]) == ("20.00", "15.00")
    assert (
        shirt_line["discount"],
        shirt_line["net"],
        shirt_line["tax"],
        shirt_line["line_total"],
    ) == ("13.00", "22.69", "4.31", "27.00")  # 30.00 after the sale, 3.00 off by the voucher
    assert order["discounts"] == [
        {"kind": "promotion", "code": "", "name": "Winter sale", "amount": "10.00"},
        {"kind": "voucher", "code": "WELCOME10", "name": "WELCOME10", "amount": "4.00"},
    ]
    assert order["payment"]["amount"] == "40.89"
    assert Voucher.objects.get().used_count == 1
    assert VoucherUsage.objects.get().order_id == Order.objects.get().pk


@override_settings(PRICES_INCLUDE_TAX=False)
def test_net_prices_get_the_destination_tax_added(api_client: APIClient, eu: ShippingZone) -> None:
    cart = cart_create(lines=[(_shirt("10.00"), 3)])
    response = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["prices_include_tax"] is False
    line = order["lines"][0]
    assert (line["net"], line["tax_rate"], line["tax"], line["line_total"]) == (
        "30.00",
        "19.00",
        "5.70",
        "35.70",
    )
    # shipping 4.90 net + 0.93 tax
    assert (order["subtotal"], order["shipping"], order["tax"], order["total"]) == (
        "30.00",
        "4.90",
        "6.63",
        "41.53",
    )


@pytest.mark.parametrize(
    ("voucher", "status", "code"),
    [
        ({"code": "NOPE"}, 400, "voucher_invalid"),
        ({"code": "OLD", "ends_at": timezone.now() - timedelta(days=1)}, 400, "voucher_expired"),
        ({"code": "BIG", "min_subtotal": Decimal("100.00")}, 400, "voucher_not_applicable"),
        ({"code": "GONE", "usage_limit": 1, "used_count": 1}, 409, "voucher_used_up"),
        ({"code": "OFF", "is_active": False}, 400, "voucher_invalid"),
    ],
)
def test_a_voucher_that_cannot_apply_is_refused_and_changes_nothing(
    api_client: APIClient, voucher: dict[str, Any], status: int, code: str
) -> None:
    if voucher["code"] != "NOPE":
        voucher_create(**voucher)
    cart = cart_create(lines=[(variant_create(price="20.00"), 1)])
    before = Cart.objects.get(pk=cart.pk).updated_at
    response = api_client.post(
        _cart_url(cart, "voucher/"), {"code": voucher["code"]}, format="json"
    )
    assert response.status_code == status, response.content
    assert response.json()["error"] == code
    if code == "voucher_not_applicable":
        assert response.json()["details"]["missing"] == "min_subtotal"
        assert response.json()["details"]["short_by"] == "80.00"
    stored = Cart.objects.get(pk=cart.pk)
    assert (stored.voucher_id, stored.updated_at) == (None, before)


def test_a_scoped_voucher_names_what_is_missing(api_client: APIClient) -> None:
    shirt = variant_create(sku="S")
    voucher_create("SHIRTS", product_ids=[shirt.product_id])
    cart = cart_create(lines=[(variant_create(sku="MUG"), 1)])
    response = api_client.post(_cart_url(cart, "voucher/"), {"code": "shirts"}, format="json")
    assert response.json()["error"] == "voucher_not_applicable"
    assert response.json()["details"]["product_ids"] == [shirt.product_id]


def test_removing_the_voucher_takes_its_discount_off(api_client: APIClient) -> None:
    voucher_create("TENOFF", kind="fixed", value=Decimal("10.00"))
    cart = cart_create(lines=[(variant_create(price="25.00"), 1)])
    on = api_client.post(_cart_url(cart, "voucher/"), {"code": "TENOFF"}, format="json").json()
    assert (on["summary"]["discount"], on["summary"]["total"]) == ("10.00", "15.00")
    off = api_client.delete(_cart_url(cart, "voucher/")).json()
    assert off["voucher"] is None
    assert (off["summary"]["discount"], off["summary"]["total"]) == ("0.00", "25.00")
    assert Cart.objects.get(pk=cart.pk).voucher_id is None


def test_a_voucher_that_stopped_applying_is_refused_at_checkout(api_client: APIClient) -> None:
    voucher = voucher_create("LATE", min_subtotal=Decimal("15.00"))
    variant = variant_create(price="20.00")
    cart = cart_create(lines=[(variant, 1)])
    assert (
        api_client.post(_cart_url(cart, "voucher/"), {"code": "late"}, format="json").status_code
        == 200
    )
    Voucher.objects.filter(pk=voucher.pk).update(ends_at=timezone.now())
    shown = api_client.get(_cart_url(cart)).json()["voucher"]
    assert (shown["applied"], shown["problem"]["error"]) == (False, "voucher_expired")
    response = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "voucher_expired"
    assert not Order.objects.exists()
    assert Voucher.objects.get().used_count == 0
    assert Stock.objects.get(variant=variant).on_hand == 10


def test_usage_limit_and_once_per_customer_hold_and_a_cancel_gives_the_use_back(
    api_client: APIClient, customer: User, customer_client: APIClient
) -> None:
    voucher = voucher_create("ONCE", once_per_customer=True, usage_limit=5)
    first = cart_create(lines=[(variant_create(), 1)])
    api_client.post(_cart_url(first, "voucher/"), {"code": "once"}, format="json")
    assert api_client.post(checkout_url(first), CHECKOUT_BODY, format="json").status_code == 201
    second = cart_create(lines=[(variant_create(), 1)])  # same guest e-mail, another cart
    api_client.post(_cart_url(second, "voucher/"), {"code": "once"}, format="json")
    again = api_client.post(checkout_url(second), CHECKOUT_BODY, format="json")
    assert again.status_code == 409
    assert again.json()["error"] == "voucher_used_up"
    voucher.refresh_from_db()
    assert voucher.used_count == 1

    order_cancel(order=Order.objects.get(), actor=None, reason="changed my mind")
    voucher.refresh_from_db()
    assert voucher.used_count == 0
    assert not VoucherUsage.objects.exists()
    assert api_client.post(checkout_url(second), CHECKOUT_BODY, format="json").status_code == 201


def test_a_signed_in_customer_who_used_a_voucher_is_refused_it_on_the_cart(
    customer: User, customer_client: APIClient
) -> None:
    voucher_create("ONCE", once_per_customer=True)
    cart = cart_create(user=customer, lines=[(variant_create(), 1)])
    customer_client.post(_cart_url(cart, "voucher/"), {"code": "once"}, format="json")
    body = _body()
    del body["email"]
    assert customer_client.post(checkout_url(cart), body, format="json").status_code == 201
    nxt = cart_create(user=customer, lines=[(variant_create(), 1)])
    refused = customer_client.post(_cart_url(nxt, "voucher/"), {"code": "ONCE"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["error"] == "voucher_used_up"


@pytest.mark.parametrize("line_count", [1, 50])
def test_budgets_with_a_voucher_and_a_promotion(
    customer: User,
    customer_client: APIClient,
    django_assert_max_num_queries: Callable[..., Any],
    eu: ShippingZone,
    line_count: int,
) -> None:
    variants = [variant_create(sku=f"V{n}", stock=5) for n in range(line_count)]
    promotion_create("Sale", product_ids=[v.product_id for v in variants[::2]])
    voucher_create("WELCOME10")
    cart = cart_create(user=customer, lines=[(v, 1) for v in variants])
    customer_client.post(_cart_url(cart, "voucher/"), {"code": "welcome10"}, format="json")

    # user, cart + voucher, lines, promotions, tax rates
    with django_assert_max_num_queries(5), CaptureQueriesContext(connection) as ctx:
        shown = customer_client.get(_cart_url(cart), {"country": "DE"})
    print(f"cart GET with a voucher and a sale, {line_count} lines: {len(ctx)} queries")
    assert shown.json()["voucher"]["applied"] is True
    # + the shipping methods
    with django_assert_max_num_queries(6):
        customer_client.get(_cart_url(cart), {"country": "DE", "shipping_method": "standard"})
    with django_assert_max_num_queries(6):
        customer_client.get(_cart_url(cart, "shipping-methods/"), {"country": "DE"})
    body = _body()
    del body["email"]
    # Measured as the other checkout budgets are (apps/orders/test_checkout.py): in the
    # steady state, where which webhook endpoints subscribe to what is cached (a miss
    # costs one query per WEBHOOK_SUBSCRIPTION_CACHE_SECONDS).
    event_subscriptions()
    with django_assert_max_num_queries(18), CaptureQueriesContext(connection) as ctx:
        response = customer_client.post(checkout_url(cart), body, format="json")
    assert response.status_code == 201, response.content
    print(f"checkout with a voucher and a sale, {line_count} lines: {len(ctx)} queries")
    assert len(response.json()["discounts"]) == 2
    assert len(response.json()["lines"]) == line_count
