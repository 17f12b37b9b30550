"""Real requests and responses of the main flows, checked against the OpenAPI document by a
strict validator (openapi-core), so that the document cannot drift from what the API does.

A client generated from the document, or a storefront validating what it receives, meets
exactly these bodies: the catalogue, a guest cart, checkout (and its idempotent replay),
the order with its guest token, a declined payment paid again, a signed-in customer, staff
fulfilment and refund, and the error answers of each layer. Every example in the document
is checked against its schema too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from rest_framework.test import APIClient

from apps.catalog.factories import variant_create
from apps.catalog.models import Variant
from apps.orders.factories import CHECKOUT_BODY
from config.conformance import (
    ADDRESS,
    HOST,
    PASSWORD,
    Recorder,
    cart_with,
    signed_in,
    token_pair,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def variants() -> list[Variant]:
    return [
        variant_create(sku="TEE-M", price="19.99", stock=10),
        variant_create(sku="MUG-1", price="8.50", stock=1),
    ]


def test_catalogue_responses_match_the_document(record: Recorder, variants: list[Variant]) -> None:
    client = APIClient()
    index = record(client, "get", "/api/v1/", status=200)
    assert "products" in index["resources"]
    page = record(client, "get", "/api/v1/products/", status=200)
    assert page["count"] == 2
    record(
        client,
        "get",
        "/api/v1/products/",
        status=200,
        query={"min_price": "5.00", "max_price": "50.00", "ordering": "-price", "page_size": "1"},
    )
    slug = page["results"][0]["slug"]
    record(client, "get", f"/api/v1/products/{slug}/", status=200)
    record(client, "get", "/api/v1/categories/", status=200)
    category = client.get("/api/v1/categories/").json()["results"][0]["slug"]
    record(client, "get", f"/api/v1/categories/{category}/", status=200)


def test_cart_checkout_order_and_pay_match_the_document(
    record: Recorder,
    variants: list[Variant],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    guest = APIClient()
    tee, mug = variants
    cart = record(guest, "post", "/api/v1/carts/", {}, status=201)
    items = f"/api/v1/carts/{cart['id']}/items/"
    cart = record(guest, "post", items, {"variant_id": tee.pk, "quantity": 1}, status=200)
    item_id = cart["items"][0]["id"]
    record(guest, "patch", f"{items}{item_id}/", {"quantity": 2}, status=200)
    record(guest, "post", items, {"variant_id": mug.pk, "quantity": 1}, status=200)
    record(guest, "delete", f"{items}{cart['items'][0]['id']}/", status=200)
    record(guest, "post", items, {"variant_id": tee.pk, "quantity": 2}, status=200)
    record(guest, "get", f"/api/v1/carts/{cart['id']}/", status=200)

    checkout = f"/api/v1/carts/{cart['id']}/checkout/"
    declined = {**CHECKOUT_BODY, "payment": {"provider": "sandbox", "token": "tok_chargeDeclined"}}
    key = {"Idempotency-Key": "checkout-1"}
    with django_capture_on_commit_callbacks(execute=True):
        order = record(guest, "post", checkout, declined, status=201, headers=key)
    assert order["billing_address"] is None
    assert order["access_token"]
    assert not record.last.has_header("Idempotent-Replayed")
    replay = record(guest, "post", checkout, declined, status=201, headers=key)
    assert replay["id"] == order["id"]
    assert record.last["Idempotent-Replayed"] == "true"
    record(guest, "post", checkout, CHECKOUT_BODY, status=422, headers=key)

    token = {"X-Order-Token": order["access_token"]}
    seen = record(guest, "get", f"/api/v1/orders/{order['id']}/", status=200, headers=token)
    assert seen["access_token"] is None
    assert seen["payment"]["status"] == "failed"
    record(guest, "get", f"/api/v1/orders/{order['id']}/events/", status=200, headers=token)
    record(guest, "get", f"/api/v1/payments/{seen['payment']['id']}/", status=200, headers=token)

    pay = f"/api/v1/orders/{order['id']}/pay/"
    card = {"provider": "sandbox", "token": "tok_visa"}
    keyed = {**token, "Idempotency-Key": "pay-1"}
    with django_capture_on_commit_callbacks(execute=True):
        payment = record(guest, "post", pay, card, status=202, headers=keyed)
    assert payment["provider"] == "sandbox"
    record(guest, "post", pay, card, status=202, headers=keyed)  # its replay
    paid = record(guest, "get", f"/api/v1/orders/{order['id']}/", status=200, headers=token)
    assert paid["status"] == "paid"
    cancelled = record(
        guest, "post", f"/api/v1/orders/{order['id']}/cancel/", {}, status=200, headers=token
    )
    assert cancelled["status"] in ("cancelled", "refunded")


def test_the_three_d_secure_flow_matches_the_document(
    record: Recorder,
    variants: list[Variant],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    guest = APIClient()
    cart = cart_with(record, guest, variants[0].pk)
    body = {
        **CHECKOUT_BODY,
        "payment": {
            "provider": "sandbox",
            "token": "tok_requiresAction",
            "return_url": "https://shop.example/checkout/complete",
        },
    }
    with django_capture_on_commit_callbacks(execute=True):
        order = record(guest, "post", f"/api/v1/carts/{cart['id']}/checkout/", body, status=201)
    token = {"X-Order-Token": order["access_token"]}
    payment_path = f"/api/v1/payments/{order['payment']['id']}/"
    payment = record(guest, "get", payment_path, status=200, headers=token)
    assert payment["next_action"]["type"] == "redirect_to_url"
    page = payment["next_action"]["redirect_to_url"]["url"].removeprefix(HOST)
    choices = record(guest, "get", page, status=200)
    assert choices["status"] == "requires_action"
    record(guest, "get", page, status=302, query={"result": "succeed"})
    refreshed = record(guest, "post", f"{payment_path}refresh/", status=200, headers=token)
    assert refreshed["status"] == "captured"
    assert refreshed["next_action"] is None


def test_signed_in_customer_and_staff_flows_match_the_document(
    record: Recorder,
    variants: list[Variant],
    staff_client: APIClient,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    client, _ = signed_in(record, "new@example.com")
    record(client, "get", "/api/v1/auth/me/", status=200)
    record(client, "post", "/api/v1/addresses/", ADDRESS, status=201)
    record(client, "get", "/api/v1/addresses/", status=200)
    cart = cart_with(record, client, variants[0].pk)
    body = {key: value for key, value in CHECKOUT_BODY.items() if key != "email"}
    body["billing_address"] = {**ADDRESS, "line2": "", "phone": ""}
    with django_capture_on_commit_callbacks(execute=True):
        order = record(client, "post", f"/api/v1/carts/{cart['id']}/checkout/", body, status=201)
    assert order["billing_address"]["city"] == "Dublin"
    orders = record(client, "get", "/api/v1/orders/", status=200)
    assert orders["results"][0]["status"] == "paid"  # captured after commit

    staff = staff_client
    record(
        staff,
        "post",
        f"/api/v1/orders/{order['id']}/fulfil/",
        {"carrier": "DHL", "tracking_number": "JD0001"},
        status=200,
    )
    with django_capture_on_commit_callbacks(execute=True):
        record(
            staff,
            "post",
            f"/api/v1/orders/{order['id']}/refund/",
            {"amount": "5.00", "reason": "Late delivery"},
            status=202,
            headers={"Idempotency-Key": "refund-1"},
        )
    record(staff, "get", "/api/v1/variants/", status=200)
    record(staff, "get", "/api/v1/ops/overview/", status=200)


def test_account_and_webhook_flows_match_the_document(
    record: Recorder,
    variants: list[Variant],
    staff_client: APIClient,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    from django.core import mail

    client = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        record(
            client,
            "post",
            "/api/v1/auth/register/",
            {"email": "acct@example.com", "password": PASSWORD},
            status=201,
        )
    token = mail.outbox[-1].body.split("token=")[1].split()[0]
    record(client, "post", "/api/v1/auth/verify-email/", {"token": token}, status=200)
    record(client, "post", "/api/v1/auth/password-reset/", {"email": "x@example.com"}, status=202)
    record(
        client,
        "post",
        "/api/v1/auth/password-reset/confirm/",
        {"uid": "MQ", "token": "nope", "password": PASSWORD},
        status=400,
    )
    access = token_pair(record, client, "acct@example.com")["access"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    record(
        client,
        "post",
        "/api/v1/auth/me/email/",
        {"email": "acct2@example.com", "password": PASSWORD},
        status=202,
    )
    record(client, "get", "/api/v1/auth/me/export/", status=200)

    endpoint = record(
        staff_client,
        "post",
        "/api/v1/webhook-endpoints/",
        {"url": "https://erp.example.com/hooks", "events": ["stock.low"]},
        status=201,
    )
    record(staff_client, "get", "/api/v1/webhook-endpoints/", status=200)
    record(
        staff_client,
        "patch",
        f"/api/v1/webhook-endpoints/{endpoint['id']}/",
        {"events": ["order.paid", "stock.low"]},
        status=200,
    )
    record(
        staff_client,
        "post",
        f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret/",
        status=200,
    )
    record(
        staff_client,
        "post",
        f"/api/v1/variants/{variants[0].pk}/low-stock-threshold/",
        {"threshold": 9},  # on hand 10: the next sale crosses it
        status=200,
    )
    record(
        staff_client,
        "post",
        f"/api/v1/variants/{variants[0].pk}/adjust-stock/",
        {"quantity": -1, "reason": "adjust"},
        status=200,
    )
    deliveries = record(staff_client, "get", "/api/v1/webhook-deliveries/", status=200)
    assert deliveries["results"][0]["event_type"] == "stock.low"
    delivery_id = deliveries["results"][0]["id"]
    record(staff_client, "get", f"/api/v1/webhook-deliveries/{delivery_id}/", status=200)
    record(staff_client, "post", f"/api/v1/webhook-deliveries/{delivery_id}/replay/", status=409)
    record(client, "delete", "/api/v1/auth/me/", {"password": PASSWORD}, status=204)


def test_error_answers_match_the_document(
    record: Recorder, variants: list[Variant], customer_client: APIClient
) -> None:
    anonymous = APIClient()
    record(anonymous, "get", "/api/v1/products/no-such-product/", status=404)
    record(
        anonymous,
        "get",
        "/api/v1/products/",
        status=400,
        query={"page": "0"},
        valid_request=False,
    )
    record(anonymous, "get", "/api/v1/orders/", status=401, valid_request=False)  # no token
    record(customer_client, "get", "/api/v1/ops/overview/", status=403)
    record(
        anonymous,
        "get",
        "/api/v1/orders/",
        status=401,
        headers={"Authorization": "Bearer not-a-token"},
    )
    cart = record(anonymous, "post", "/api/v1/carts/", {}, status=201)
    items = f"/api/v1/carts/{cart['id']}/items/"
    record(
        anonymous,
        "post",
        items,
        {"variant_id": variants[0].pk, "quantity": "two"},
        status=400,
        valid_request=False,
    )
    record(
        anonymous,
        "post",
        items,
        raw=b"quantity=1",
        content_type="text/plain",
        status=415,
        valid_request=False,
    )
    record(anonymous, "post", items, raw=b"{", status=400, valid_request=False)
    record(anonymous, "post", items, {"variant_id": variants[1].pk, "quantity": 5}, status=409)
    record(
        anonymous,
        "post",
        f"/api/v1/carts/{cart['id']}/checkout/",
        CHECKOUT_BODY,
        status=409,  # an empty cart
    )
    record(
        anonymous,
        "post",
        f"/api/v1/carts/{cart['id']}/checkout/",
        {**CHECKOUT_BODY, "total": "0.01"},
        status=400,
        valid_request=False,
    )


def test_every_example_in_the_document_matches_its_schema(document: dict[str, Any]) -> None:
    """Swagger UI offers these in "Try it out": each must be a body the API accepts."""
    checked = 0
    for item in document["paths"].values():
        for operation in item.values():
            contents = [operation.get("requestBody", {}).get("content", {})]
            contents += [r.get("content", {}) for r in operation["responses"].values()]
            for content in contents:
                for media in content.values():
                    schema = {**media["schema"], "components": document["components"]}
                    for example in media.get("examples", {}).values():
                        OAS30Validator(schema).validate(example["value"])
                        checked += 1
    assert checked >= 8


def test_every_example_reaches_its_operation(document: dict[str, Any]) -> None:
    from config.openapi_examples import EXAMPLES, PARAMETER_EXAMPLES

    for (method, path), examples in EXAMPLES.items():
        operation = document["paths"][path][method]
        for key in examples:
            part = operation["requestBody"] if key == "request" else operation["responses"][key]
            assert part["content"]["application/json"]["examples"], (method, path, key)
    for (method, path), values in PARAMETER_EXAMPLES.items():
        parameters = {p["name"]: p for p in document["paths"][path][method]["parameters"]}
        assert {name: parameters[name]["schema"]["example"] for name in values} == values


def test_pricing_flow_and_its_refusals_match_the_document(
    record: Recorder, variants: list[Variant], staff_client: APIClient
) -> None:
    from apps.pricing.factories import promotion_create, tax_rate_create, voucher_create

    tee, _ = variants
    tax_rate_create("DE", "19.00")
    promotion_create("Tee sale", product_ids=[tee.product_id])
    voucher_create("WELCOME10", min_subtotal="10.00")
    voucher_create("SPENT", usage_limit=1, used_count=1)
    guest = APIClient()
    base = f"/api/v1/carts/{cart_with(record, guest, tee.pk, quantity=2)['id']}/"
    record(guest, "get", f"{base}shipping-methods/", status=200, query={"country": "DE"})
    record(guest, "post", f"{base}voucher/", {"code": "nope"}, status=400)
    record(guest, "post", f"{base}voucher/", {"code": "spent"}, status=409)
    priced = record(guest, "post", f"{base}voucher/", {"code": "welcome10"}, status=200)
    assert priced["voucher"]["applied"] is True
    shown = record(
        guest, "get", base, status=200, query={"country": "DE", "shipping_method": "standard"}
    )
    record(guest, "get", base, status=409, query={"shipping_method": "teleport"})
    record(
        guest,
        "post",
        f"{base}checkout/",
        {**CHECKOUT_BODY, "shipping_method": "teleport"},
        status=409,
    )
    order = record(guest, "post", f"{base}checkout/", CHECKOUT_BODY, status=201)
    assert order["total"] == shown["summary"]["total"]
    assert [d["kind"] for d in order["discounts"]] == ["promotion", "voucher"]

    for path, body in [
        ("shipping-zones", {"name": "Nordics", "countries": ["SE", "NO"]}),
        ("tax-classes", {"code": "reduced", "name": "Reduced"}),
        ("vouchers", {"code": "STAFF5", "kind": "fixed", "value": "5.00"}),
        ("promotions", {"name": "Flash", "kind": "percentage", "value": "15"}),
    ]:
        made = record(staff_client, "post", f"/api/v1/pricing/{path}/", body, status=201)
        record(staff_client, "get", f"/api/v1/pricing/{path}/", status=200)
        record(staff_client, "patch", f"/api/v1/pricing/{path}/{made['id']}/", {}, status=200)
    zone = record(staff_client, "get", "/api/v1/pricing/shipping-zones/", status=200)
    method = record(
        staff_client,
        "post",
        "/api/v1/pricing/shipping-methods/",
        {"zone": zone["results"][0]["id"], "code": "post", "name": "Post", "price": "3.00"},
        status=201,
    )
    gone = staff_client.delete(f"/api/v1/pricing/shipping-methods/{method['id']}/")
    assert gone.status_code == 204  # no body to validate
    record(
        staff_client,
        "post",
        "/api/v1/pricing/tax-rates/",
        {"country": "SE", "tax_class": "reduced", "rate": "12.00"},
        status=201,
    )
    record(
        staff_client,
        "post",
        "/api/v1/pricing/vouchers/",
        {"code": "BAD", "kind": "percentage", "value": "150"},
        status=400,
    )
