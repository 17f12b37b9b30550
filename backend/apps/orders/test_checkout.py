"""Checkout API: one order per cart, stock taken through the ledger, strict input,
idempotency, and a query count that does not grow with the number of lines."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from apps.accounts.models import User
from apps.cart.models import Cart
from apps.catalog.models import Stock, StockMovement, Variant
from apps.core.models import IdempotencyRecord
from apps.integrations.services import event_subscriptions
from apps.orders.factories import CHECKOUT_BODY, checkout_url
from apps.orders.models import Order, OrderEvent
from apps.orders.selectors import order_token_hash
from apps.payments.models import Payment

pytestmark = pytest.mark.django_db

QUERY_BUDGET = 18  # issue 16: pricing reads promotions, tax rates and shipping methods
# With a key, the claim and the stored answer commit in the checkout's transaction, so
# the checkout's own atomic block becomes a savepoint: SAVEPOINT + RELEASE (two round
# trips, no row read or written) on top of the two statements the key always cost.
QUERY_BUDGET_WITH_KEY = QUERY_BUDGET + 4


def _body(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(CHECKOUT_BODY)
    body.update(changes)
    return body


def _on_hand(variant: Variant) -> int:
    return Stock.objects.get(variant=variant).on_hand


def _ledger(variant: Variant) -> int:
    return StockMovement.objects.filter(variant=variant).aggregate(s=Sum("quantity"))["s"] or 0


def test_guest_checkout_creates_the_order_and_takes_the_stock(
    api_client: APIClient,
    make_variant: Callable[..., Variant],
    make_cart: Callable[..., Cart],
    published: list[tuple[str, tuple[Any, ...]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    shirt = make_variant(sku="SHIRT-M", price="19.99", stock=5)
    mug = make_variant(sku="MUG", price="7.50", stock=3)
    cart = make_cart(lines=[(shirt, 2), (mug, 1)])

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get(pk=body["id"])
    assert re.fullmatch(r"\d{6}-[0-9A-Z]{8}", body["number"])
    assert body["status"] == "pending_payment"
    assert body["email"] == "guest@example.com"
    assert [
        (line["sku"], line["unit_price"], line["quantity"], line["line_total"])
        for line in body["lines"]
    ] == [("SHIRT-M", "19.99", 2, "39.98"), ("MUG", "7.50", 1, "7.50")]
    assert body["lines"][0]["name"] == "Product SHIRT-M"
    assert (body["subtotal"], body["shipping"], body["total"]) == ("47.48", "4.90", "52.38")
    assert body["currency"] == "EUR"
    assert body["shipping_address"]["country"] == "DE"
    assert body["billing_address"] is None
    payment = Payment.objects.get(order=order)
    assert body["payment"] == {
        "id": str(payment.id),
        "provider": "sandbox",
        "status": "pending",
        "amount": "52.38",
        "currency": "EUR",
    }
    assert payment.payment_method == "tok_visa"
    assert payment.amount == Decimal("52.38")
    deadline = order.payment_deadline - timezone.now()
    assert timedelta(minutes=29) < deadline <= timedelta(minutes=30)
    # The guest's token is shown once; only its hash is stored.
    assert body["access_token"]
    assert order.access_token_hash == order_token_hash(body["access_token"])
    assert order.user is None
    assert order.cart_id == cart.pk
    # Stock went down through `sale` movements tied to the order.
    assert (_on_hand(shirt), _on_hand(mug)) == (3, 2)
    assert (_ledger(shirt), _ledger(mug)) == (3, 2)
    sales = StockMovement.objects.filter(order=order, reason="sale")
    assert sorted(sales.values_list("variant_id", "quantity")) == [(shirt.pk, -2), (mug.pk, -1)]
    cart.refresh_from_db()
    assert cart.status == Cart.Status.CHECKED_OUT
    event = OrderEvent.objects.get(order=order)
    assert (event.from_status, event.to_status, event.actor_kind) == (
        "",
        "pending_payment",
        "customer",
    )
    assert published == [("apps.payments.tasks.payment_capture_task", (str(payment.id),))]


def test_signed_in_checkout_defaults_the_email_and_has_no_token(
    customer: User,
    customer_client: APIClient,
    make_variant: Callable[..., Variant],
    make_cart: Callable[..., Cart],
) -> None:
    cart = make_cart(user=customer, lines=[(make_variant(sku="A"), 1)])
    body = _body()
    del body["email"]

    response = customer_client.post(checkout_url(cart), body, format="json")

    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.user == customer
    assert order.email == customer.email
    assert response.json()["access_token"] is None
    assert order.access_token_hash == ""
    assert OrderEvent.objects.get(order=order).actor == customer


def test_billing_address_is_kept_when_given(
    api_client: APIClient, make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> None:
    cart = make_cart(lines=[(make_variant(sku="A"), 1)])
    billing = {**CHECKOUT_BODY["shipping_address"], "name": "Billing Name", "country": "AT"}
    response = api_client.post(checkout_url(cart), _body(billing_address=billing), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["billing_address"]["name"] == "Billing Name"
    assert response.json()["billing_address"]["country"] == "AT"


def test_express_shipping_uses_the_configured_price(
    api_client: APIClient, make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> None:
    cart = make_cart(lines=[(make_variant(sku="A", price="10.00"), 1)])
    response = api_client.post(checkout_url(cart), _body(shipping_method="express"), format="json")
    assert response.status_code == 201
    assert (response.json()["shipping"], response.json()["total"]) == ("12.90", "22.90")


def test_guest_checkout_without_email_is_refused(
    api_client: APIClient, make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> None:
    variant = make_variant(sku="A")
    cart = make_cart(lines=[(variant, 1)])
    body = _body()
    del body["email"]
    response = api_client.post(checkout_url(cart), body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "email" in response.json()["details"]
    assert not Order.objects.exists()
    assert _on_hand(variant) == 5


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"total": "0.01"}, "total"),
        ({"status": "paid"}, "status"),
        ({"shipping_adress": {}}, "shipping_adress"),
        ({"payment": {"provider": "sandbox", "token": "tok_visa", "amount": "1.00"}}, "payment"),
        (
            {"shipping_address": {**CHECKOUT_BODY["shipping_address"], "price": "1"}},
            "shipping_address",
        ),
        (
            {"shipping_address": {**CHECKOUT_BODY["shipping_address"], "country": "XX"}},
            "shipping_address",
        ),
        ({"shipping_method": "Not A Code!"}, "shipping_method"),
        ({"payment": {"provider": "paypal", "token": "tok_visa"}}, "payment"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_bad_or_unknown_input_is_a_400_and_changes_nothing(
    api_client: APIClient,
    make_variant: Callable[..., Variant],
    make_cart: Callable[..., Cart],
    change: dict[str, Any],
    field: str,
) -> None:
    variant = make_variant(sku="A")
    cart = make_cart(lines=[(variant, 1)])
    response = api_client.post(checkout_url(cart), _body(**change), format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["details"]
    assert not Order.objects.exists()
    cart.refresh_from_db()
    assert cart.status == Cart.Status.OPEN


def test_short_stock_is_409_listing_each_short_variant_and_changes_nothing(
    api_client: APIClient, make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> None:
    plenty = make_variant(sku="PLENTY", stock=10)
    short = make_variant(sku="SHORT", stock=1)
    gone = make_variant(sku="GONE", stock=0)
    cart = make_cart(lines=[(plenty, 2), (short, 3), (gone, 1)])

    response = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")

    assert response.status_code == 409
    assert response.json()["error"] == "out_of_stock"
    assert response.json()["details"]["variants"] == [
        {"variant_id": short.pk, "sku": "SHORT", "requested": 3, "available": 1},
        {"variant_id": gone.pk, "sku": "GONE", "requested": 1, "available": 0},
    ]
    assert (_on_hand(plenty), _on_hand(short), _on_hand(gone)) == (10, 1, 0)
    assert not StockMovement.objects.filter(reason="sale").exists()
    assert not Order.objects.exists()
    assert not Payment.objects.exists()
    cart.refresh_from_db()
    assert cart.status == Cart.Status.OPEN


def test_a_variant_no_longer_on_sale_is_out_of_stock(
    api_client: APIClient, make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> None:
    retired = make_variant(sku="OLD", stock=5, active=False)
    cart = make_cart(lines=[(retired, 1)])
    response = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert response.status_code == 409
    assert response.json()["details"]["variants"][0]["available"] == 0
    assert _on_hand(retired) == 5


def test_empty_cart_is_409_cart_empty(
    api_client: APIClient, make_cart: Callable[..., Cart]
) -> None:
    cart = make_cart()
    response = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "cart_empty"
    assert not Order.objects.exists()


def test_second_checkout_of_the_same_cart_is_409_and_makes_no_second_order(
    api_client: APIClient, make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> None:
    variant = make_variant(sku="A", stock=5)
    cart = make_cart(lines=[(variant, 1)])
    first = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    second = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["error"] == "invalid_state"
    assert second.json()["details"]["order_id"] == first.json()["id"]
    assert Order.objects.count() == 1
    assert _on_hand(variant) == 4


def test_an_abandoned_cart_cannot_be_checked_out(
    api_client: APIClient, make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> None:
    cart = make_cart(lines=[(make_variant(sku="A"), 1)])
    Cart.objects.filter(pk=cart.pk).update(status=Cart.Status.ABANDONED)
    response = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_state"


def test_another_users_cart_is_404_for_users_and_guests(
    customer: User,
    other_client: APIClient,
    api_client: APIClient,
    make_variant: Callable[..., Variant],
    make_cart: Callable[..., Cart],
) -> None:
    variant = make_variant(sku="A")
    cart = make_cart(user=customer, lines=[(variant, 1)])
    assert other_client.post(checkout_url(cart), CHECKOUT_BODY, format="json").status_code == 404
    assert api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json").status_code == 404
    assert (
        api_client.post(checkout_url("not-a-uuid"), CHECKOUT_BODY, format="json").status_code == 404
    )
    unknown = "00000000-0000-4000-8000-000000000000"
    assert api_client.post(checkout_url(unknown), CHECKOUT_BODY, format="json").status_code == 404
    assert not Order.objects.exists()
    assert _on_hand(variant) == 5


def test_only_post_is_routed(api_client: APIClient, make_cart: Callable[..., Cart]) -> None:
    cart = make_cart()
    assert api_client.get(checkout_url(cart)).status_code == 405


def _measure_checkout(client: APIClient, cart: Cart, budget: Any, **headers: str) -> int:
    limit = QUERY_BUDGET_WITH_KEY if headers else QUERY_BUDGET
    # The steady state: which webhook endpoints subscribe to what is cached (one lookup
    # per WEBHOOK_SUBSCRIPTION_CACHE_SECONDS, counted by apps/integrations' own tests).
    event_subscriptions()
    with budget(limit), CaptureQueriesContext(connection) as ctx:
        response = client.post(checkout_url(cart), CHECKOUT_BODY, format="json", **headers)
    assert response.status_code == 201, response.content
    return len(ctx.captured_queries)


@pytest.mark.parametrize("line_count", [1, 50])
@pytest.mark.parametrize(
    "with_key",
    [
        pytest.param(False, id="without-key"),
        # transaction=True: no test-only SAVEPOINT statements, as in production.
        pytest.param(True, id="with-key", marks=pytest.mark.django_db(transaction=True)),
    ],
)
def test_checkout_query_count_stays_within_the_budget_and_does_not_grow_with_lines(
    customer: User,
    customer_client: APIClient,
    make_variant: Callable[..., Variant],
    make_cart: Callable[..., Cart],
    django_assert_max_num_queries: Any,
    line_count: int,
    with_key: bool,
) -> None:
    variants = [make_variant(sku=f"SKU-{n}", stock=3) for n in range(line_count)]
    cart = make_cart(user=customer, lines=[(variant, 2) for variant in variants])
    headers = {"HTTP_IDEMPOTENCY_KEY": "k-1"} if with_key else {}

    count = _measure_checkout(customer_client, cart, django_assert_max_num_queries, **headers)

    assert Stock.objects.filter(on_hand=1).count() == line_count
    assert Order.objects.get().lines.count() == line_count
    if with_key:
        assert IdempotencyRecord.objects.get().status == IdempotencyRecord.Status.COMPLETED
    key = " with Idempotency-Key" if with_key else ""
    print(f"checkout{key}, {line_count} lines: {count} queries")


def test_same_idempotency_key_replays_the_first_response(
    api_client: APIClient,
    make_variant: Callable[..., Variant],
    make_cart: Callable[..., Cart],
) -> None:
    variant = make_variant(sku="A", stock=5)
    cart = make_cart(lines=[(variant, 1)])
    url = checkout_url(cart)

    first = api_client.post(url, CHECKOUT_BODY, format="json", HTTP_IDEMPOTENCY_KEY="click-1")
    again = api_client.post(url, CHECKOUT_BODY, format="json", HTTP_IDEMPOTENCY_KEY="click-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # the access token included: it is the same answer
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Order.objects.count() == 1
    assert _on_hand(variant) == 4
    assert IdempotencyRecord.objects.get().owner == f"cart:{cart.pk}"


def test_same_key_with_another_body_is_422(
    api_client: APIClient, make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> None:
    cart = make_cart(lines=[(make_variant(sku="A"), 1)])
    url = checkout_url(cart)
    api_client.post(url, CHECKOUT_BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
    other = api_client.post(
        url, _body(shipping_method="express"), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert other.status_code == 422
    assert other.json()["error"] == "idempotency_conflict"
    assert Order.objects.count() == 1


def test_a_signed_in_users_key_is_scoped_to_that_user(
    customer: User,
    customer_client: APIClient,
    other_customer: User,
    other_client: APIClient,
    make_variant: Callable[..., Variant],
    make_cart: Callable[..., Cart],
) -> None:
    variant = make_variant(sku="A", stock=5)
    mine = make_cart(user=customer, lines=[(variant, 1)])
    theirs = make_cart(user=other_customer, lines=[(variant, 1)])
    first = customer_client.post(
        checkout_url(mine), CHECKOUT_BODY, format="json", HTTP_IDEMPOTENCY_KEY="same"
    )
    second = other_client.post(
        checkout_url(theirs), CHECKOUT_BODY, format="json", HTTP_IDEMPOTENCY_KEY="same"
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert sorted(IdempotencyRecord.objects.values_list("owner", flat=True)) == sorted(
        [f"user:{customer.pk}", f"user:{other_customer.pk}"]
    )


def test_a_key_over_255_characters_is_400(
    api_client: APIClient, make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> None:
    cart = make_cart(lines=[(make_variant(sku="A"), 1)])
    response = api_client.post(
        checkout_url(cart), CHECKOUT_BODY, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256
    )
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "Idempotency-Key" in response.json()["details"]
    assert not Order.objects.exists()


def test_a_refused_checkout_is_replayed_with_its_status(
    api_client: APIClient, make_variant: Callable[..., Variant], make_cart: Callable[..., Cart]
) -> None:
    variant = make_variant(sku="A", stock=0)
    cart = make_cart(lines=[(variant, 1)])
    url = checkout_url(cart)
    first = api_client.post(url, CHECKOUT_BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
    again = api_client.post(url, CHECKOUT_BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"


def test_checkout_is_throttled_by_its_own_scope(
    api_client: APIClient,
    make_variant: Callable[..., Variant],
    make_cart: Callable[..., Cart],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "checkout": "2/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    cart = make_cart()
    statuses = [
        api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json").status_code
        for _ in range(3)
    ]
    assert statuses == [409, 409, 429]


def test_a_method_that_does_not_serve_the_address_is_a_409_and_changes_nothing(
    api_client: APIClient,
    make_variant: Callable[..., Variant],
    make_cart: Callable[..., Cart],
) -> None:
    variant = make_variant(sku="A")
    cart = make_cart(lines=[(variant, 1)])
    response = api_client.post(checkout_url(cart), _body(shipping_method="teleport"), format="json")
    assert response.status_code == 409, response.content
    assert response.json()["error"] == "shipping_unavailable"
    assert response.json()["details"]["shipping_method"] == "teleport"
    assert response.json()["details"]["country"] == "DE"
    assert not Order.objects.exists()
    assert _on_hand(variant) == 5
