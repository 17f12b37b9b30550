"""Test helpers for the security tests beside ``config/``: one of everything, owned by someone.

``world_build`` makes the objects the access matrix and the bad-input tests aim at:
customer A's address, open cart, orders (pending, paid, failed payment) and
payment; a guest cart and two guest orders with their tokens; the catalogue; and
the rows the ops endpoints read. ``db_snapshot`` reads every row the API can write,
so a test can show that a refused request changed nothing.

``backend_python`` runs Python in a child process from ``backend/`` (a settings module of
its own, such as prod with ``PROD_REQUIRED``, the least it starts with).

``api_cart_with``, ``checkout_body`` and ``api_checkout`` are the guest's way to a checkout
through the API that the unit and integration tests share (a cart holding one variant; the
checkout body with the shared address; both, checked out).

Imported by tests only; never by application code.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps as django_apps
from django_celery_results.models import TaskResult
from rest_framework.test import APIClient

from apps.accounts.factories import ADDRESS, AddressFactory
from apps.accounts.models import Address, User
from apps.cart.models import Cart, CartItem
from apps.catalog.factories import make_product
from apps.catalog.models import Category, Product, Variant, Warehouse
from apps.catalog.stock import warehouse_default
from apps.integrations.factories import WebhookEndpointFactory, delivery_make
from apps.integrations.models import WebhookDelivery, WebhookEndpoint
from apps.ops.factories import task_result_make
from apps.ops.models import WorkerProbe
from apps.orders.factories import CHECKOUT_BODY, order_create
from apps.orders.models import Order
from apps.payments.factories import latest_payment, order_paid
from apps.payments.models import Payment, WebhookEvent
from apps.payments.services import payment_capture

# Every app whose rows an API request can create, change or delete.
WRITABLE_APPS = (
    "accounts",
    "cart",
    "catalog",
    "orders",
    "payments",
    "notifications",
    "core",
    "ops",
    "integrations",
    "returns",
    "token_blacklist",
    "django_celery_results",
)

PASSWORD = "a-world-passphrase-0123"  # every user of the world has it
GUEST_TOKEN = "guest-token-a-0123456789abcdef0123456789abcdef"
OTHER_GUEST_TOKEN = "guest-token-b-fedcba9876543210fedcba9876543210"

ADDRESS_BODY = ADDRESS

BACKEND = Path(__file__).resolve().parents[1]
# What ``config.settings.prod`` refuses to start without (nothing here reaches a database).
PROD_REQUIRED = {
    "SECRET_KEY": "a-real-production-secret-" + "x" * 40,
    "ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "postgres://shop:pw@127.0.0.1:5432/shop",
}


def backend_python(
    *args: str, env: Mapping[str, str], timeout: int
) -> subprocess.CompletedProcess[str]:
    """``python *args`` in a child process run from ``backend/`` with exactly ``env``; its
    output is captured as text and its exit status is left for the caller to judge."""
    return subprocess.run(  # noqa: S603 (the tests' own commands, no shell)
        [sys.executable, *args],
        cwd=BACKEND,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass(frozen=True)
class World:
    alice: User  # customer A: owns everything below that has an owner
    bob: User  # customer B
    staff: User
    category: Category
    product: Product
    variant: Variant
    address: Address
    cart: Cart
    item: CartItem
    pending_order: Order
    payment: Payment  # the pending order's payment
    paid_order: Order
    failed_order: Order  # pending_payment, its last payment failed: may be paid again
    guest_cart: Cart
    other_guest_cart: Cart
    guest_order: Order
    guest_payment: Payment
    other_guest_order: Order
    probe: WorkerProbe
    task: TaskResult
    webhook_event: WebhookEvent
    webhook_endpoint: WebhookEndpoint
    webhook_delivery: WebhookDelivery  # failed: it may be replayed
    warehouse: Warehouse  # the default one, holding the variant's stock


def world_build(*, alice: User, bob: User, staff: User) -> World:
    for user in (alice, bob, staff):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    product = make_product(prices=("10.00",), stock=50)
    variant = product.variants.get()
    address = AddressFactory.create(user=alice)
    cart = Cart.objects.create(user=alice, currency="EUR")
    item = CartItem.objects.create(cart=cart, variant=variant, quantity=1)
    guest_cart = Cart.objects.create(currency="EUR")
    CartItem.objects.create(cart=guest_cart, variant=variant, quantity=1)
    other_guest_cart = Cart.objects.create(currency="EUR")

    pending_order = order_create(user=alice, lines=[(variant, 1)])
    paid_order = order_paid(user=alice, lines=[(variant, 1)])
    failed_order = order_create(
        user=alice, lines=[(variant, 1)], payment_method="tok_chargeDeclined"
    )
    payment_capture(payment_id=str(latest_payment(failed_order).pk))
    guest_order = order_create(lines=[(variant, 1)], guest_token=GUEST_TOKEN)
    other_guest_order = order_create(lines=[(variant, 1)], guest_token=OTHER_GUEST_TOKEN)

    probe = WorkerProbe.objects.create(queue="default")
    task = task_result_make(name="apps.ops.tasks.worker_probe_complete_task", args=(str(probe.pk),))
    webhook_event = WebhookEvent.objects.create(
        provider="sandbox",
        event_id="evt_matrix_1",
        type="payment.succeeded",
        payload={"id": "evt_matrix_1", "type": "payment.succeeded", "data": {}},
    )
    webhook_endpoint = WebhookEndpointFactory.create()
    webhook_delivery = delivery_make(
        webhook_endpoint,
        status=WebhookDelivery.Status.FAILED,
        next_attempt_at=webhook_endpoint.created_at,
    )
    return World(
        alice=alice,
        bob=bob,
        staff=staff,
        category=product.category,
        product=product,
        variant=variant,
        address=address,
        cart=cart,
        item=item,
        pending_order=pending_order,
        payment=latest_payment(pending_order),
        paid_order=paid_order,
        failed_order=failed_order,
        guest_cart=guest_cart,
        other_guest_cart=other_guest_cart,
        guest_order=guest_order,
        guest_payment=latest_payment(guest_order),
        other_guest_order=other_guest_order,
        probe=probe,
        task=task,
        webhook_event=webhook_event,
        webhook_endpoint=webhook_endpoint,
        webhook_delivery=webhook_delivery,
        warehouse=warehouse_default(),
    )


def db_snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every model a request can write, ordered by primary key."""
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    for model in django_apps.get_models():
        if model._meta.app_label in WRITABLE_APPS:
            rows = model._default_manager.order_by("pk").values_list()
            snapshot[model._meta.label] = list(rows)
    return snapshot


def api_cart_with(client: APIClient, variant_id: int, quantity: int = 1) -> str:
    """A new cart through the API holding ``quantity`` units of the variant; its id."""
    cart = client.post("/api/v1/carts/", {}, format="json")
    assert cart.status_code == 201, cart.content
    cart_id = str(cart.json()["id"])
    added = client.post(
        f"/api/v1/carts/{cart_id}/items/",
        {"variant_id": variant_id, "quantity": quantity},
        format="json",
    )
    assert added.status_code in (200, 201), added.content
    return cart_id


SANDBOX_CARD = "tok_visa"  # the sandbox card that is always charged at once


def checkout_body(*, email: str, token: str = SANDBOX_CARD, **payment: str) -> dict[str, Any]:
    """The shared checkout body (``CHECKOUT_BODY``) for ``email``, paid by sandbox ``token``.

    ``payment`` adds fields to the payment part (``return_url``).
    """
    return {
        **CHECKOUT_BODY,
        "email": email,
        "payment": {**CHECKOUT_BODY["payment"], "token": token, **payment},
    }


def api_checkout(
    client: APIClient,
    variant_id: int,
    *,
    email: str,
    quantity: int = 1,
    token: str = SANDBOX_CARD,
    headers: dict[str, Any] | None = None,
    **payment: str,
) -> dict[str, Any]:
    """A guest buys ``quantity`` units of the variant through the API (``api_cart_with``,
    then ``checkout_body``): the 201 answer. ``headers`` go with the checkout request
    (``HTTP_IDEMPOTENCY_KEY=...``)."""
    cart_id = api_cart_with(client, variant_id, quantity)
    response = client.post(
        f"/api/v1/carts/{cart_id}/checkout/",
        checkout_body(email=email, token=token, **payment),
        format="json",
        **(headers or {}),
    )
    assert response.status_code == 201, response.content
    return dict(response.json())
