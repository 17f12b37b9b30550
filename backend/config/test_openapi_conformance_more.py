"""The operations the main flows (``test_openapi_conformance.py``) do not reach, checked the
same way: real requests through the whole stack, request and answer validated by
openapi-core against the generated document. Account upkeep, staff catalogue and
pricing administration, ops endpoints and a signed provider webhook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.catalog.factories import variant_create
from apps.catalog.models import Variant
from apps.ops.factories import task_result_make
from apps.ops.models import WorkerProbe
from apps.orders.factories import CHECKOUT_BODY
from apps.payments.factories import payment_event_body
from apps.payments.models import Payment
from apps.payments.providers.sandbox import sandbox_sign
from config.conformance import ADDRESS, PASSWORD, Recorder, cart_with, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def variant() -> Variant:
    return variant_create(sku="TEE-M", price="19.99", stock=10)


def test_account_upkeep_matches_the_document(record: Recorder, variant: Variant) -> None:
    client, pair = signed_in(record, "upkeep@example.com")
    record(client, "patch", "/api/v1/auth/me/", {"first_name": "Ada"}, status=200)
    made = record(client, "post", "/api/v1/addresses/", ADDRESS, status=201)
    path = f"/api/v1/addresses/{made['id']}/"
    record(client, "get", path, status=200)
    record(client, "put", path, {**ADDRESS, "city": "Cork"}, status=200)
    record(client, "patch", path, {"postal_code": "T12"}, status=200)
    record(client, "delete", path, status=204)

    cart = cart_with(record, APIClient(), variant.pk)
    claimed = record(client, "post", f"/api/v1/carts/{cart['id']}/claim/", {}, status=200)
    assert claimed["id"] == cart["id"]

    refreshed = record(
        client, "post", "/api/v1/auth/token/refresh/", {"refresh": pair["refresh"]}, status=200
    )
    record(
        client,
        "post",
        "/api/v1/auth/password/",
        {"current_password": PASSWORD, "new_password": "another-long-passphrase-2025"},
        status=204,
    )
    record(client, "post", "/api/v1/auth/logout/", {"refresh": refreshed["refresh"]}, status=204)


def test_a_voucher_taken_off_a_cart_matches_the_document(
    record: Recorder, variant: Variant
) -> None:
    from apps.pricing.factories import voucher_create

    voucher_create("WELCOME10")
    guest = APIClient()
    base = f"/api/v1/carts/{cart_with(record, guest, variant.pk)['id']}/"
    record(guest, "post", f"{base}voucher/", {"code": "welcome10"}, status=200)
    removed = record(guest, "delete", f"{base}voucher/", status=200)
    assert removed["voucher"] is None


def test_staff_catalogue_administration_matches_the_document(
    record: Recorder, staff_client: APIClient
) -> None:
    staff = staff_client
    record(staff, "post", "/api/v1/categories/", {"name": "Outdoor", "slug": "outdoor"}, status=201)
    category = "/api/v1/categories/outdoor/"
    record(staff, "put", category, {"name": "Outdoor gear", "slug": "outdoor"}, status=200)
    record(staff, "patch", category, {"position": 2}, status=200)

    record(
        staff,
        "post",
        "/api/v1/products/",
        {"category": "outdoor", "name": "Tent", "slug": "tent"},
        status=201,
    )
    product = "/api/v1/products/tent/"
    record(
        staff,
        "put",
        product,
        {"category": "outdoor", "name": "Tent 2p", "slug": "tent"},
        status=200,
    )
    record(staff, "patch", product, {"description": "Sleeps two."}, status=200)

    made = record(
        staff,
        "post",
        "/api/v1/variants/",
        {"product": "tent", "sku": "TENT-2P", "name": "Two person", "price": "149.00"},
        status=201,
    )
    variant = f"/api/v1/variants/{made['id']}/"
    record(staff, "get", variant, status=200)
    record(
        staff, "put", variant, {"sku": "TENT-2P", "name": "2 person", "price": "139.00"}, status=200
    )
    record(staff, "patch", variant, {"attributes": {"colour": "green"}}, status=200)
    record(
        staff, "post", f"{variant}adjust-stock/", {"quantity": 4, "reason": "adjust"}, status=200
    )
    movements = record(staff, "get", f"{variant}movements/", status=200)
    assert movements["results"][0]["quantity"] == 4

    record(staff, "delete", variant, status=204)
    record(staff, "delete", product, status=204)
    record(staff, "delete", category, status=204)


def test_staff_pricing_administration_matches_the_document(
    record: Recorder, staff_client: APIClient
) -> None:
    staff = staff_client

    def made(kind: str, body: dict[str, Any]) -> Any:
        return record(staff, "post", f"/api/v1/pricing/{kind}/", body, status=201)

    zone = made("shipping-zones", {"name": "Nordics", "countries": ["SE"]})
    method = made(
        "shipping-methods", {"zone": zone["id"], "code": "post", "name": "Post", "price": "3.00"}
    )
    tax_class = made("tax-classes", {"code": "books", "name": "Books"})
    rate = made("tax-rates", {"country": "SE", "tax_class": "books", "rate": "6.00"})
    voucher = made("vouchers", {"code": "STAFF5", "kind": "fixed", "value": "5.00"})
    promotion = made("promotions", {"name": "Flash", "kind": "percentage", "value": "15"})
    record(staff, "get", "/api/v1/pricing/shipping-methods/", status=200)
    record(staff, "get", "/api/v1/pricing/tax-rates/", status=200)
    record(
        staff,
        "patch",
        f"/api/v1/pricing/shipping-methods/{method['id']}/",
        {"price": "3.50"},
        status=200,
    )
    record(staff, "patch", f"/api/v1/pricing/tax-rates/{rate['id']}/", {"rate": "6.50"}, status=200)
    for kind, row in [
        ("shipping-methods", method),
        ("tax-rates", rate),
        ("shipping-zones", zone),
        ("tax-classes", tax_class),
        ("vouchers", voucher),
        ("promotions", promotion),
    ]:
        path = f"/api/v1/pricing/{kind}/{row['id']}/"
        record(staff, "get", path, status=200)
        record(staff, "delete", path, status=204)
        if kind == "vouchers":  # deactivated, never deleted: its uses stay
            assert record(staff, "get", path, status=200)["is_active"] is False
        else:
            record(staff, "get", path, status=404)


def test_ops_endpoints_and_a_signed_provider_webhook_match_the_document(
    record: Recorder,
    variant: Variant,
    staff_client: APIClient,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    staff = staff_client
    record(staff, "get", "/api/v1/ops/payments/stuck/", status=200)
    with django_capture_on_commit_callbacks(execute=True):
        probe = record(staff, "post", "/api/v1/ops/probes/", {"queue": "webhooks"}, status=201)
    record(staff, "get", f"/api/v1/ops/probes/{probe['id']}/", status=200)

    failed = task_result_make(
        name="apps.ops.tasks.worker_probe_complete_task",
        status="FAILURE",
        args=(str(WorkerProbe.objects.create(queue="maintenance").pk),),
    )
    record(staff, "get", "/api/v1/ops/tasks/", status=200, query={"state": "FAILURE"})
    record(staff, "get", f"/api/v1/ops/tasks/{failed.task_id}/", status=200)
    record(staff, "post", f"/api/v1/ops/tasks/{failed.task_id}/retry/", status=202)

    guest = APIClient()
    cart = cart_with(record, guest, variant.pk)
    order = record(
        guest,
        "post",
        f"/api/v1/carts/{cart['id']}/checkout/",
        CHECKOUT_BODY,
        status=201,
    )
    payment = Payment.objects.get(pk=order["payment"]["id"])
    body = payment_event_body(payment)
    with django_capture_on_commit_callbacks(execute=True):
        record(
            APIClient(),
            "post",
            "/api/v1/payments/webhooks/sandbox/",
            raw=body,
            headers=sandbox_sign(body),
            status=200,
        )
    events = record(staff, "get", "/api/v1/ops/webhooks/", status=200)
    event_id = events["results"][0]["id"]
    record(staff, "get", f"/api/v1/ops/webhooks/{event_id}/", status=200)
    record(staff, "post", f"/api/v1/ops/webhooks/{event_id}/replay/", status=202)


def test_a_webhook_endpoint_read_and_removed_matches_the_document(
    record: Recorder, staff_client: APIClient
) -> None:
    made = record(
        staff_client,
        "post",
        "/api/v1/webhook-endpoints/",
        {"url": "https://erp.example.com/hooks", "events": ["order.paid"]},
        status=201,
    )
    path = f"/api/v1/webhook-endpoints/{made['id']}/"
    shown = record(staff_client, "get", path, status=200)
    assert "secret" not in shown or not shown["secret"]  # the secret is shown once
    record(staff_client, "delete", path, status=204)
    record(staff_client, "get", path, status=404)


def test_fulfilment_pack_ship_cancel_and_the_order_match_the_document(
    record: Recorder, staff_client: APIClient
) -> None:
    from apps.catalog.factories import make_warehouse, receive
    from apps.payments.factories import order_paid

    first, second = variant_create(sku="MUG-F", stock=5), variant_create(sku="CAP-F", stock=5)
    receive(second, 2, warehouse=make_warehouse(code="north", priority=10))
    order = order_paid(lines=[(first, 2), (second, 1)])
    lines = list(order.lines.order_by("id"))
    base = f"/api/v1/orders/{order.pk}/fulfilments/"

    packed = record(
        staff_client,
        "post",
        base,
        {
            "lines": [{"line": lines[0].pk, "quantity": 1}],
            "warehouse": "default",
            "carrier": "DHL",
            "tracking_number": "JD0001",
            "tracking_url": "https://track.example/JD0001",
        },
        status=201,
        headers={"Idempotency-Key": "pack-1"},
    )
    assert packed["status"] == "pending"
    shipped = record(staff_client, "post", f"{base}{packed['number']}/ship/", status=200)
    assert shipped["shipped_at"] is not None
    moved = record(
        staff_client,
        "post",
        base,
        {"lines": [{"line": lines[1].pk, "quantity": 1}], "warehouse": "north", "ship": False},
        status=201,
    )
    record(staff_client, "post", f"{base}{moved['number']}/cancel/", status=200)
    record(staff_client, "post", f"{base}{moved['number']}/cancel/", status=409)
    record(
        staff_client,
        "post",
        base,
        {"lines": [{"line": lines[0].pk, "quantity": 5}], "warehouse": "default"},
        status=400,
    )
    record(
        staff_client,
        "post",
        base,
        {"lines": [{"line": lines[0].pk, "quantity": 1}], "warehouse": "north"},
        status=409,  # north has none of the mug: insufficient_stock
    )
    record(staff_client, "post", f"{base}SO-NONE-F1/ship/", status=404)
    detail = record(staff_client, "get", f"/api/v1/orders/{order.pk}/", status=200)
    assert [(f["number"], f["status"]) for f in detail["fulfilments"]] == [
        (packed["number"], "shipped"),
        (moved["number"], "cancelled"),
    ]
    assert detail["status"] == "partially_fulfilled"


def test_returns_match_the_document(
    record: Recorder, customer: Any, customer_client: APIClient, staff_client: APIClient
) -> None:
    from apps.catalog.models import Warehouse
    from apps.returns.factories import order_shipped

    Warehouse.objects.create(code="returns-b", name="Returns B", country="DE", priority=9)
    tee = variant_create(sku="RET-TEE", price="10.00", stock=10)
    order = order_shipped(user=customer, lines=[(tee, 3)], tax_rate="19.00")
    line = order.lines.get().pk
    base = f"/api/v1/orders/{order.pk}/returns/"
    ask = {"lines": [{"line": line, "quantity": 1}], "reason": "damaged", "note": "Torn"}

    first = record(
        customer_client, "post", base, ask, status=201, headers={"Idempotency-Key": "ret-doc-1"}
    )
    second = record(customer_client, "post", base, {**ask, "reason": "other"}, status=201)
    record(
        customer_client,
        "post",
        base,
        {"lines": [{"line": line, "quantity": 5}], "reason": "damaged"},
        status=400,
    )
    record(customer_client, "get", base, status=200)

    staff = staff_client
    record(staff, "get", "/api/v1/returns/", status=200, query={"status": "requested"})
    number = first["number"]
    record(staff, "get", f"/api/v1/returns/{number}/", status=200)
    record(staff, "post", f"/api/v1/returns/{number}/approve/", {}, status=200)
    record(staff, "post", f"/api/v1/returns/{number}/approve/", {}, status=409)
    record(
        staff,
        "post",
        f"/api/v1/returns/{second['number']}/reject/",
        {"staff_note": "Not ours"},
        status=200,
    )
    record(
        staff,
        "post",
        f"/api/v1/returns/{number}/receive/",
        {"lines": [{"line": line, "quantity": 1, "restock": True, "warehouse": "nowhere"}]},
        status=400,
    )
    received = record(
        staff,
        "post",
        f"/api/v1/returns/{number}/receive/",
        {"lines": [{"line": line, "quantity": 1, "restock": True, "warehouse": "returns-b"}]},
        status=200,
    )
    assert received["lines"][0]["warehouse"] == "returns-b"
    refunded = record(
        staff,
        "post",
        f"/api/v1/returns/{number}/refund/",
        {},
        status=202,
        headers={"Idempotency-Key": "ret-doc-refund"},
    )
    assert refunded["refund"]["amount"] == "10.00"
    record(staff, "post", f"/api/v1/returns/{number}/refund/", {}, status=409)


def test_return_cancels_match_the_document(
    record: Recorder, customer: Any, customer_client: APIClient, staff_client: APIClient
) -> None:
    from apps.returns.factories import order_shipped

    order = order_shipped(user=customer, lines=[(variant_create(sku="RET-CAP", stock=10), 3)])
    base = f"/api/v1/orders/{order.pk}/returns/"
    ask = {"lines": [{"line": order.lines.get().pk, "quantity": 1}], "reason": "other"}
    first = record(customer_client, "post", base, ask, status=201)["number"]
    second = record(customer_client, "post", base, ask, status=201)["number"]

    cancelled = record(
        customer_client,
        "post",
        f"{base}{first}/cancel/",
        {},
        status=200,
        headers={"Idempotency-Key": "ret-doc-cancel"},
    )
    assert (cancelled["status"], cancelled["cancelled_at"] is not None) == ("cancelled", True)
    record(customer_client, "post", f"{base}{first}/cancel/", {}, status=409)
    record(customer_client, "post", f"{base}{order.number}-R9/cancel/", {}, status=404)
    record(staff_client, "post", f"/api/v1/returns/{second}/cancel/", {}, status=200)
    record(staff_client, "post", f"/api/v1/returns/{second}/cancel/", {}, status=409)
