"""Bad input is refused with the right 4xx, in the error shape, and changes nothing.

Every refusal here is checked three ways: the status, the body
``{"error": <code>, "details": {...}}`` and a snapshot of every writable table
taken before the request (``config.testing.db_snapshot``), compared after it.

The unknown-field test is generated from the OpenAPI document: every operation
that takes a JSON body is sent one with a field it does not declare, so a new
write endpoint is covered the day it is added.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.accounts.factories import jwt_client
from apps.accounts.models import User
from apps.orders.factories import CHECKOUT_BODY
from config.testing import World, db_snapshot, world_build

pytestmark = pytest.mark.django_db

LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE


@pytest.fixture
def world(customer: User, other_customer: User, staff: User) -> World:
    return world_build(alice=customer, bob=other_customer, staff=staff)


def refused(response: Any, status: int, code: str, *, field: str | None = None) -> dict[str, Any]:
    """Assert the refusal; return its details."""
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"error", "details"}, body
    assert body["error"] == code, body
    assert isinstance(body["details"], dict)
    if field is not None:
        assert field in body["details"], body
    return dict(body["details"])


def unchanged(world: World, send: Callable[[], Any]) -> Any:
    """Send, and assert that no writable row changed."""
    before = db_snapshot()
    response = send()
    assert db_snapshot() == before, "a refused request wrote to the database"
    return response


def posted(world: World, user: User | None, url: str, body: Any, **extra: str) -> Any:
    """``user`` (``None``: a guest) posts ``body`` as JSON, and no writable row changed."""
    return unchanged(world, lambda: jwt_client(user).post(url, body, format="json", **extra))


def post_raw(client: APIClient, url: str, data: bytes, content_type: str, **extra: Any) -> Any:
    return client.generic("POST", url, data=data, content_type=content_type, **extra)


def items_url(world: World) -> str:
    return f"/api/v1/carts/{world.cart.pk}/items/"


# --- Malformed bodies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'{"variant_id": 1, "quantity": }',
        b'{"variant_id": 1, "quanti',  # truncated
        b"[1, 2,",
        b"",  # no body at all on a JSON write
        b'{"variant_id": 1, "quantity": NaN}',
        b'{"variant_id": 1, "quantity": Infinity}',
        b"\xff\xfe{}",  # not UTF-8
        b'{"variant_id": 1} trailing',
    ],
    ids=["broken", "truncated", "unclosed-array", "empty", "nan", "infinity", "bad-utf8", "trail"],
)
def test_malformed_json_is_a_400_parse_error(world: World, raw: bytes) -> None:
    client = jwt_client(world.alice)
    response = unchanged(world, lambda: post_raw(client, items_url(world), raw, "application/json"))
    if raw == b"":
        refused(response, 400, "validation_error")  # nothing to parse: the fields are missing
    else:
        refused(response, 400, "parse_error")


def test_json_nested_too_deep_is_a_400_not_a_stack_overflow(world: World) -> None:
    client = jwt_client(world.alice)
    for depth in (100_000, 40):  # past the recursion limit, and past MAX_DEPTH
        raw = b'{"quantity": ' + b"[" * depth + b"]" * depth + b"}"
        response = unchanged(
            world, lambda raw=raw: post_raw(client, items_url(world), raw, "application/json")
        )
        assert "nested" in refused(response, 400, "parse_error")["message"]


@pytest.mark.parametrize(
    "raw",
    [b'{"variant_id": 1, "quantity": 1, "note": "a\\u0000b"}', b'{"a\\u0000": 1}'],
    ids=["in-a-value", "in-a-key"],
)
def test_nul_in_json_is_a_400(world: World, raw: bytes) -> None:
    client = jwt_client(world.alice)
    response = unchanged(world, lambda: post_raw(client, items_url(world), raw, "application/json"))
    assert "NUL" in refused(response, 400, "parse_error")["message"]


def test_nul_in_the_path_query_or_a_header_is_refused_before_any_query(world: World) -> None:
    client = jwt_client(world.staff)
    refused(client.get("/api/v1/products/a%00b/"), 404, "not_found")
    refused(client.get("/api/v1/ops/tasks/a%00b/"), 404, "not_found")
    refused(client.get("/api/v1/products/", {"search": "a\x00b"}), 400, "bad_request")
    checkout = posted(
        world,
        world.alice,
        f"/api/v1/carts/{world.cart.pk}/checkout/",
        CHECKOUT_BODY,
        HTTP_IDEMPOTENCY_KEY="key\x00",
    )
    refused(checkout, 400, "bad_request")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/xml",
        "application/json-patch+json",
    ],
)
def test_a_body_that_is_not_json_is_a_415(world: World, content_type: str) -> None:
    client = jwt_client(world.alice)
    response = unchanged(
        world,
        lambda: post_raw(client, items_url(world), b"variant_id=1&quantity=1", content_type),
    )
    refused(response, 415, "unsupported_media_type")


# --- Size limits --------------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_413(world: World) -> None:
    client = jwt_client(world.alice)
    padding = "x" * LIMIT
    raw = json.dumps({"variant_id": world.variant.pk, "quantity": 1, "pad": padding}).encode()
    response = unchanged(world, lambda: post_raw(client, items_url(world), raw, "application/json"))
    refused(response, 413, "payload_too_large")
    assert not response.has_header("Connection")  # hop-by-hop: WSGI forbids it (see test_servers)


class CountingStream(io.RawIOBase):
    """A request body of unlimited length that counts the bytes read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        size = 64 * 1024 if size is None or size < 0 else size
        self.read_bytes += size
        return b" " * size

    def readline(self, size: int | None = -1) -> bytes:
        return self.read(size)


def _endless_post(world: World, **meta: str) -> tuple[Any, CountingStream]:
    """Alice posts a body with no end to her cart (``meta``: more of the request's WSGI
    environ); the answer, which came within a second, and the body's stream."""
    client = jwt_client(world.alice)
    stream = CountingStream()
    started = time.monotonic()

    response = unchanged(
        world,
        lambda: client.generic(
            "POST",
            items_url(world),
            content_type="application/json",
            **meta,
            **{"wsgi.input": stream},
        ),
    )

    assert time.monotonic() - started < 1.0
    return response, stream


def test_a_declared_1_gb_body_is_refused_at_once_without_being_read(world: World) -> None:
    response, stream = _endless_post(world, CONTENT_LENGTH=str(1024**3))

    refused(response, 413, "payload_too_large")
    assert stream.read_bytes == 0  # refused by Content-Length, before anything was read


def test_an_endless_body_without_a_length_is_never_read(world: World) -> None:
    """A chunked upload has no Content-Length: Django reads none of it (and the parser,
    handed a stream, would stop at the limit), so it cannot fill memory."""
    response, stream = _endless_post(world)

    assert stream.read_bytes <= LIMIT + 1
    refused(response, 400, "validation_error")


def test_the_parser_stops_reading_at_the_limit() -> None:
    from utils.errors import PayloadTooLargeError
    from utils.parsers import BoundedJSONParser

    stream = CountingStream()
    with pytest.raises(PayloadTooLargeError):
        BoundedJSONParser().parse(stream)
    assert stream.read_bytes == LIMIT + 1


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_a_content_length_that_is_not_a_number_is_a_400(world: World, length: str) -> None:
    client = jwt_client(world.alice)
    response = unchanged(
        world,
        lambda: client.generic(
            "POST",
            items_url(world),
            data=b"{}",
            content_type="application/json",
            CONTENT_LENGTH=length,
        ),
    )
    refused(response, 400, "bad_request")


# --- Unknown fields, on every write endpoint of the document ------------------------------


def _operations_with_a_body() -> list[tuple[str, str]]:
    document = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "requestBody" in operation
    )


# Provider events are open-ended (providers add fields); their signature authenticates them.
OPEN_BODIES = {("POST", "/api/v1/payments/webhooks/{provider}/")}
WRITE_OPERATIONS = [op for op in _operations_with_a_body() if op not in OPEN_BODIES]


def _pricing_rule(collection: str) -> Any:
    from apps.pricing import factories
    from apps.pricing.models import ShippingMethod, ShippingZone

    zone = ShippingZone.objects.get(is_rest_of_world=True)  # the default test shipping
    makers: dict[str, Callable[[], Any]] = {
        "shipping-zones": lambda: zone,
        "shipping-methods": lambda: ShippingMethod.objects.filter(zone=zone).first(),
        "tax-classes": lambda: factories.tax_class_get("standard"),
        "tax-rates": lambda: factories.tax_rate_create("DE", "19.00"),
        "vouchers": lambda: factories.voucher_create("BADINPUT"),
        "promotions": lambda: factories.promotion_create("Bad input sale"),
    }
    return makers[collection]()


def _path(world: World, method: str, template: str) -> str:
    order = {
        "cancel": world.pending_order,
        "fulfil": world.paid_order,
        "fulfilments": world.paid_order,
        "refund": world.paid_order,
        "pay": world.failed_order,
        "returns": world.paid_order,
    }
    values = {
        "/api/v1/addresses/{id}/": {"id": world.address.pk},
        "/api/v1/categories/{slug}/": {"slug": world.category.slug},
        "/api/v1/products/{slug}/": {"slug": world.product.slug},
        "/api/v1/variants/{id}/": {"id": world.variant.pk},
        "/api/v1/warehouses/{id}/": {"id": world.warehouse.pk},
        "/api/v1/variants/{id}/adjust-stock/": {"id": world.variant.pk},
        "/api/v1/variants/{id}/low-stock-threshold/": {"id": world.variant.pk},
        "/api/v1/webhook-endpoints/{id}/": {"id": world.webhook_endpoint.pk},
        "/api/v1/carts/{id}/items/{item_id}/": {"id": world.cart.pk, "item_id": world.item.pk},
    }
    if template.startswith("/api/v1/pricing/"):
        kwargs = {"id": _pricing_rule(template.split("/")[4]).pk}
    elif template.startswith("/api/v1/carts/{id}/"):
        kwargs = values.get(template, {"id": world.cart.pk})
    elif template.startswith("/api/v1/orders/{id}/"):
        kwargs = {
            "id": order[template.rstrip("/").rsplit("/", 1)[-1]].pk,
            "number": "BAD-INPUT-R1",  # a return's cancel: the body is checked before it is read
        }
    elif template.startswith("/api/v1/returns/{number}/"):
        kwargs = {"number": "BAD-INPUT-R1"}  # the body is checked before the return is read
    else:
        kwargs = values.get(template, {})
    return template.format(**kwargs)


def test_the_write_operations_are_found_in_the_document() -> None:
    assert ("POST", "/api/v1/carts/{id}/checkout/") in WRITE_OPERATIONS
    assert ("PATCH", "/api/v1/addresses/{id}/") in WRITE_OPERATIONS
    assert len(WRITE_OPERATIONS) >= 25


@pytest.mark.parametrize(("method", "template"), WRITE_OPERATIONS)
def test_an_unknown_field_is_a_400_on_every_write_endpoint(
    world: World, method: str, template: str
) -> None:
    url = _path(world, method, template)
    body = {"zz_not_a_field": 1}
    # The caller who may use the endpoint: the owner of the objects in the URL, else staff.
    for user in (world.alice, world.staff):
        response = unchanged(
            world,
            lambda user=user: jwt_client(user).generic(
                method, url, data=json.dumps(body), content_type="application/json"
            ),
        )
        if response.status_code not in (401, 403, 404):
            break
    details = refused(response, 400, "validation_error", field="zz_not_a_field")
    assert details["zz_not_a_field"] == ["Unknown or read-only field."]


def test_an_unknown_field_in_a_nested_object_is_a_400(world: World) -> None:
    client = jwt_client(world.alice)
    body = {**CHECKOUT_BODY, "shipping_address": {**CHECKOUT_BODY["shipping_address"], "vat": 1}}
    response = unchanged(
        world, lambda: client.post(f"/api/v1/carts/{world.cart.pk}/checkout/", body, format="json")
    )
    details = refused(response, 400, "validation_error", field="shipping_address")
    assert details["shipping_address"] == {"vat": ["Unknown or read-only field."]}


def test_a_client_never_sets_a_price_or_a_total(world: World) -> None:
    client = jwt_client(world.alice)
    for extra in ({"total": "0.01"}, {"subtotal": "0.00"}, {"status": "paid"}):
        response = unchanged(
            world,
            lambda extra=extra: client.post(
                f"/api/v1/carts/{world.cart.pk}/checkout/",
                {**CHECKOUT_BODY, **extra},
                format="json",
            ),
        )
        refused(response, 400, "validation_error", field=next(iter(extra)))


# --- Quantities ---------------------------------------------------------------------------

BAD_QUANTITIES = [0, -1, 1.5, 2.0, "1", "1e9", 1e9, 2**63, True, None, [], {}, 100]


@pytest.mark.parametrize("quantity", BAD_QUANTITIES, ids=repr)
def test_a_bad_quantity_on_a_cart_line_is_a_400(world: World, quantity: Any) -> None:
    client = jwt_client(world.alice)
    item_url = f"/api/v1/carts/{world.cart.pk}/items/{world.item.pk}/"

    added = unchanged(
        world,
        lambda: client.post(
            items_url(world), {"variant_id": world.variant.pk, "quantity": quantity}, format="json"
        ),
    )
    changed = unchanged(
        world, lambda: client.patch(item_url, {"quantity": quantity}, format="json")
    )

    refused(added, 400, "validation_error", field="quantity")
    refused(changed, 400, "validation_error", field="quantity")


@pytest.mark.parametrize("variant_id", [0, -1, 2**63, "1", 1.0, True, None], ids=repr)
def test_a_bad_variant_id_is_a_400(world: World, variant_id: Any) -> None:
    response = posted(
        world, world.alice, items_url(world), {"variant_id": variant_id, "quantity": 1}
    )
    refused(response, 400, "validation_error", field="variant_id")


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "1", True, None, 2**31, [1]])
def test_a_bad_quantity_on_a_return_line_is_a_400(world: World, quantity: Any) -> None:
    from apps.returns.factories import order_shipped

    order = order_shipped(user=world.alice, lines=[(world.variant, 2)])
    body = {"lines": [{"line": order.lines.get().pk, "quantity": quantity}], "reason": "damaged"}
    response = posted(world, world.alice, f"/api/v1/orders/{order.pk}/returns/", body)
    details = refused(response, 400, "validation_error", field="lines")
    assert "quantity" in details["lines"]["0"]


@pytest.mark.parametrize(
    ("number", "body", "status", "code"),
    [
        ("R" * 33, {}, 404, "not_found"),  # longer than a return number may be
        ("..%2F..%2Fcancel", {}, 404, "not_found"),
        ("SO-NOPE-R1", {}, 404, "not_found"),
        (None, [], 400, "validation_error"),  # a list, not an object
        (None, {"reason": "changed my mind"}, 400, "validation_error"),
    ],
)
def test_a_bad_return_cancel_is_refused_and_changes_nothing(
    world: World, number: str | None, body: Any, status: int, code: str
) -> None:
    from apps.returns.factories import order_shipped, return_made

    order = order_shipped(user=world.alice, lines=[(world.variant, 2)])
    made = return_made(order, [(order.lines.get(), 1)], actor=world.alice)
    url = f"/api/v1/orders/{order.pk}/returns/{number or made.number}/cancel/"
    response = posted(world, world.alice, url, body)
    refused(response, status, code)
    made.refresh_from_db()
    assert made.status == "requested"


@pytest.mark.parametrize("quantity", BAD_QUANTITIES, ids=repr)
def test_a_bad_quantity_on_a_refund_line_is_a_400(world: World, quantity: Any) -> None:
    body = {"restock": True, "lines": [{"sku": world.variant.sku, "quantity": quantity}]}
    response = posted(world, world.staff, f"/api/v1/orders/{world.paid_order.pk}/refund/", body)
    details = refused(response, 400, "validation_error", field="lines")
    if quantity != 100:  # 100 is a valid number of units (of which 1 was bought)
        assert "quantity" in details["lines"]["0"], details  # errors by item index


def _fulfilment_post(world: World, **patch: Any) -> Any:
    line = world.paid_order.lines.get()
    body = {"lines": [{"line": line.pk, "quantity": 1}], "warehouse": "default", **patch}
    return posted(world, world.staff, f"/api/v1/orders/{world.paid_order.pk}/fulfilments/", body)


@pytest.mark.parametrize("quantity", BAD_QUANTITIES, ids=repr)
def test_a_bad_quantity_on_a_fulfilment_line_is_a_400(world: World, quantity: Any) -> None:
    line = world.paid_order.lines.get()  # 1 unit bought: 100 is more than is left
    response = _fulfilment_post(world, lines=[{"line": line.pk, "quantity": quantity}])
    refused(response, 400, "validation_error", field="lines")


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"lines": [{"line": 0, "quantity": 1}]}, "lines"),
        ({"lines": [{"line": 2**63, "quantity": 1}]}, "lines"),
        ({"lines": [{"line": 99999999, "quantity": 1}]}, "lines"),  # not a line of the order
        ({"lines": [{"quantity": 1}]}, "lines"),
        ({"lines": {"line": 1}}, "lines"),
        ({"lines": []}, "lines"),
        ({"warehouse": "nowhere"}, "warehouse"),
        ({"warehouse": "../default"}, "warehouse"),
        ({"warehouse": 7}, "warehouse"),
        ({"carrier": "c" * 101}, "carrier"),
        ({"tracking_number": "t" * 101}, "tracking_number"),
        ({"tracking_url": "ftp://track.example/1"}, "tracking_url"),
        ({"tracking_url": "https://x.example/" + "p" * 500}, "tracking_url"),
        ({"ship": 1}, "ship"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_bad_fulfilment_is_a_400_that_changes_nothing(
    world: World, patch: dict[str, Any], field: str
) -> None:
    refused(_fulfilment_post(world, **patch), 400, "validation_error", field=field)


def test_an_unknown_fulfilment_in_the_path_is_a_404(world: World) -> None:
    for verb in ("ship", "cancel"):
        for number in ("SO-00000-F1", "x" * 33, "%2E%2E"):
            url = f"/api/v1/orders/{world.paid_order.pk}/fulfilments/{number}/{verb}/"
            response = unchanged(world, lambda url=url: jwt_client(world.staff).post(url))
            refused(response, 404, "not_found")


@pytest.mark.parametrize("quantity", [0, 1.5, "5", "1e9", 2**63, True, None], ids=repr)
def test_a_bad_stock_adjustment_is_a_400(world: World, quantity: Any) -> None:
    response = posted(
        world,
        world.staff,
        f"/api/v1/variants/{world.variant.pk}/adjust-stock/",
        {"quantity": quantity, "reason": "receive"},
    )
    refused(response, 400, "validation_error", field="quantity")


# --- Money --------------------------------------------------------------------------------

BAD_MONEY = [
    5.0,
    5,
    "5.001",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "1e2",
    "-5.00",
    "",
    " ",
    "5,00",
    True,
    [],
    {},
]


# Malformed money, and well-formed amounts of nothing or of more than was paid.
@pytest.mark.parametrize("amount", [*BAD_MONEY, "0.00", "0", "1000000.00"], ids=repr)
def test_a_bad_refund_amount_is_a_400(world: World, amount: Any) -> None:
    response = posted(
        world, world.staff, f"/api/v1/orders/{world.paid_order.pk}/refund/", {"amount": amount}
    )
    refused(response, 400, "validation_error", field="amount")


def test_money_sent_as_a_json_nan_literal_is_a_parse_error(world: World) -> None:
    response = unchanged(
        world,
        lambda: post_raw(
            jwt_client(world.staff),
            f"/api/v1/orders/{world.paid_order.pk}/refund/",
            b'{"amount": NaN}',
            "application/json",
        ),
    )
    refused(response, 400, "parse_error")


@pytest.mark.parametrize("price", [*BAD_MONEY, "10000000000.00"], ids=repr)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_bad_variant_price_is_a_400(world: World, method: str, price: Any) -> None:
    if method == "POST":
        url = "/api/v1/variants/"
        body = {"product": world.product.slug, "sku": "NEW-1", "name": "New", "price": price}
    else:
        url, body = f"/api/v1/variants/{world.variant.pk}/", {"price": price}
    response = unchanged(
        world,
        lambda: jwt_client(world.staff).generic(
            method, url, data=json.dumps(body), content_type="application/json"
        ),
    )
    refused(response, 400, "validation_error", field="price")


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-1", "-0.01", "1.001", "1e2", "abc", "0x10"])
@pytest.mark.parametrize("name", ["min_price", "max_price"])
def test_a_bad_price_filter_is_a_400(world: World, name: str, value: str) -> None:
    response = APIClient().get("/api/v1/products/", {name: value})
    refused(response, 400, "validation_error", field=name)


# --- Strings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "field", "limit", "who"),
    [
        ("/api/v1/addresses/", "name", 200, "alice"),
        ("/api/v1/addresses/", "city", 100, "alice"),
        ("/api/v1/auth/register/", "first_name", 150, None),
        ("/api/v1/auth/register/", "password", 128, None),
        ("/api/v1/categories/", "name", 200, "staff"),
        ("/api/v1/variants/", "sku", 64, "staff"),
    ],
)
def test_a_string_over_its_maximum_is_a_400(
    world: World, url: str, field: str, limit: int, who: str | None
) -> None:
    body: dict[str, Any] = {
        "/api/v1/addresses/": {
            "name": "A",
            "line1": "L",
            "city": "C",
            "postal_code": "1",
            "country": "DE",
        },
        "/api/v1/auth/register/": {"email": "new@example.com", "password": "a-long-passphrase-1"},
        "/api/v1/categories/": {"name": "N"},
        "/api/v1/variants/": {
            "product": world.product.slug,
            "sku": "S",
            "name": "N",
            "price": "1.00",
        },
    }[url]
    user = {"alice": world.alice, "staff": world.staff, None: None}[who]
    response = posted(world, user, url, {**body, field: "x" * (limit + 1)})
    refused(response, 400, "validation_error", field=field)


@pytest.mark.parametrize("url", ["/api/v1/auth/register/", "checkout"])
def test_an_email_over_254_characters_is_a_400(world: World, url: str) -> None:
    email = "a" * 64 + "@" + ("b" * 63 + ".") * 3 + "example.com"  # 267 characters
    assert len(email) > 254
    if url == "checkout":
        url = f"/api/v1/carts/{world.guest_cart.pk}/checkout/"
        body = {**CHECKOUT_BODY, "email": email}
    else:
        body = {"email": email, "password": "a-long-passphrase-1"}
    response = posted(world, None, url, body)
    refused(response, 400, "validation_error", field="email")


@pytest.mark.parametrize("route", ["checkout", "pay", "refund", "fulfilments", "return"])
def test_an_idempotency_key_over_255_characters_is_a_400(world: World, route: str) -> None:
    url, body, user = {
        "fulfilments": (
            f"/api/v1/orders/{world.paid_order.pk}/fulfilments/",
            {
                "lines": [{"line": world.paid_order.lines.get().pk, "quantity": 1}],
                "warehouse": "default",
            },
            world.staff,
        ),
        "return": (
            f"/api/v1/orders/{world.paid_order.pk}/returns/",
            {"lines": [{"line": 1, "quantity": 1}], "reason": "damaged"},
            world.alice,
        ),
        "checkout": (f"/api/v1/carts/{world.cart.pk}/checkout/", CHECKOUT_BODY, world.alice),
        "pay": (
            f"/api/v1/orders/{world.failed_order.pk}/pay/",
            {"provider": "sandbox", "token": "tok_visa"},
            world.alice,
        ),
        "refund": (f"/api/v1/orders/{world.paid_order.pk}/refund/", {}, world.staff),
    }[route]
    response = posted(world, user, url, body, HTTP_IDEMPOTENCY_KEY="k" * 256)
    refused(response, 400, "validation_error", field="Idempotency-Key")


def test_text_sent_as_another_json_type_is_a_400(world: World) -> None:
    client = jwt_client(world.alice)
    for value in (0, 1.5, True, ["Berlin"], {"x": "y"}):
        response = unchanged(
            world,
            lambda value=value: client.patch(
                f"/api/v1/addresses/{world.address.pk}/", {"city": value}, format="json"
            ),
        )
        refused(response, 400, "validation_error", field="city")


# --- Paths and query strings --------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/carts/not-a-uuid/",
        "/api/v1/carts/00000000-0000-0000-0000-000000000000/",
        "/api/v1/orders/123/",
        "/api/v1/orders/{uuid}x/",
        "/api/v1/orders/%F0%9F%92%A5/",
        "/api/v1/orders/{unknown}/events/",
        "/api/v1/orders/{unknown}/returns/",
        "/api/v1/returns/no-such-return/",
        "/api/v1/returns/%F0%9F%92%A5/",
        "/api/v1/payments/zzz/",
        "/api/v1/addresses/abc/",
        "/api/v1/addresses/99999999999999999999999/",
        "/api/v1/variants/99999999999999999999999/",
        "/api/v1/products/no-such-product/",
        "/api/v1/carts/{cart}/items/99999999999999999999999/",
        "/api/v1/ops/webhooks/99999999999999999999999/",
        "/api/v1/ops/probes/not-a-uuid/",
        "/api/v1/ops/tasks/..%2F..%2Fetc/",
    ],
)
def test_an_invalid_or_unknown_id_in_the_path_is_a_404(world: World, path: str) -> None:
    url = path.format(uuid=world.pending_order.pk, cart=world.cart.pk, unknown=uuid.uuid4())
    method = "PATCH" if "/items/" in url else "GET"
    response = unchanged(
        world,
        lambda: jwt_client(
            world.staff
            if "/ops/" in url or "/variants/" in url or "/returns/no" in url or "/returns/%" in url
            else world.alice
        ).generic(method, url, data=b'{"quantity": 1}', content_type="application/json"),
    )
    refused(response, 404, "not_found")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page_size": "101"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "-1"}, "page_size"),
        ({"page_size": "abc"}, "page_size"),
        ({"page_size": "1e2"}, "page_size"),
        ({"page_size": "9" * 5000}, "page_size"),
        ({"page": "abc"}, "page"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page": "1_0"}, "page"),
        ({"page": "\uff11"}, "page"),  # a full-width digit one
        ({"page": "9" * 5000}, "page"),
        ({"ordering": "unknown"}, "ordering"),
        ({"ordering": "email"}, "ordering"),
        ({"ordering": "created_at,total"}, "ordering"),
        ({"status": "shipped"}, "status"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2024-01-01T00:00:00+21:46"}, "created_before"),
        ({"created_after": "0001-01-01T00:00:00+05:00"}, "created_after"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_bad_list_query_is_a_400(world: World, query: dict[str, str], field: str) -> None:
    response = jwt_client(world.staff).get("/api/v1/orders/", query)
    refused(response, 400, "validation_error", field=field)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"ordering": "popularity"}, "ordering"),
        ({"in_stock": "maybe"}, "in_stock"),
        ({"page_size": "1000"}, "page_size"),
    ],
)
def test_a_bad_catalogue_query_is_a_400(query: dict[str, str], field: str) -> None:
    refused(APIClient().get("/api/v1/products/", query), 400, "validation_error", field=field)


def test_a_page_past_the_last_is_a_404_and_an_empty_value_means_not_given(world: World) -> None:
    client = jwt_client(world.staff)
    refused(client.get("/api/v1/orders/", {"page": "999"}), 404, "not_found")
    listed = client.get("/api/v1/orders/", {"page": "", "page_size": "", "ordering": ""})
    assert listed.status_code == 200
    assert listed.json()["count"] == 5
    assert client.get("/api/v1/orders/", {"page": "last", "page_size": "2"}).status_code == 200


def test_a_method_the_route_does_not_have_is_a_405_in_the_error_shape(world: World) -> None:
    client = jwt_client(world.staff)
    refused(client.delete("/api/v1/orders/"), 405, "method_not_allowed")
    refused(
        unchanged(world, lambda: client.put(f"/api/v1/orders/{world.paid_order.pk}/", {})),
        405,
        "method_not_allowed",
    )
