"""Access-control matrix: every route and method of the URL configuration, for four callers.

The routes come from ``django.urls.get_resolver()`` (everything but the Django
admin, which has its own login), with the methods each view answers. ``MATRIX``
below says, for each (route name, method), what each caller gets when the URL
names customer A's objects:

- ``anonymous``: no credentials;
- ``customer_a``: the owner of the address, cart, orders and payment in the URL;
- ``customer_b``: another customer, on A's objects;
- ``staff``: ``is_staff``.

Every role runs against fresh data (a transaction rolled back after each test).
A refused
request (4xx) must leave every writable table as it was. A route or method
without an entry fails ``test_every_route_and_method_has_an_entry`` (and its
own cases), so a new endpoint cannot ship without a decision about who may call it.

The table is checked against the policy too (``test_matrix_follows_the_policy``):
on A's objects B gets a 404, never a 403 or a 200; on staff routes customers get
403 and anonymous callers 401. The ``/ops/`` page is the exception the policy
names: it uses the admin's session login, and sends everyone else (customers
included, JWT or not) to that login page with a 302.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from apps.accounts.factories import jwt_client
from apps.accounts.models import User
from apps.orders.factories import CHECKOUT_BODY
from apps.payments.factories import payment_event_body
from apps.payments.providers.sandbox import sandbox_sign
from config.testing import (
    ADDRESS_BODY,
    GUEST_TOKEN,
    OTHER_GUEST_TOKEN,
    PASSWORD,
    World,
    db_snapshot,
    world_build,
)

ROLES = ("anonymous", "customer_a", "customer_b", "staff")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Function views declare their methods with decorators only: they are found by asking.
PROBED = "probed"

Kwargs = Callable[[World], dict[str, Any]]
Body = Callable[[World], Any]


@dataclass(frozen=True)
class Entry:
    """Expected status per role, and what the request carries."""

    kind: str  # public | self | owned | staff | owned_staff | signed | session_staff
    anonymous: int
    customer_a: int
    customer_b: int
    staff: int
    kwargs: Kwargs = field(default=lambda w: {})
    body: Body | None = None
    headers: Callable[[World], dict[str, str]] | None = None

    def expected(self, role: str) -> int:
        return int(getattr(self, role))


def _pk(attribute: str) -> Kwargs:
    return lambda w: {"pk": getattr(w, attribute).pk}


def _slug(attribute: str) -> Kwargs:
    return lambda w: {"slug": getattr(w, attribute).slug}


def _refresh(w: World) -> dict[str, str]:
    from rest_framework_simplejwt.tokens import RefreshToken

    return {"refresh": str(RefreshToken.for_user(w.alice))}


def _reset_confirm(w: World) -> dict[str, str]:
    from django.contrib.auth.tokens import default_token_generator

    from apps.accounts.emails import uid_encode

    token = default_token_generator.make_token(w.alice)
    return {"uid": uid_encode(w.alice), "token": token, "password": "a-reset-passphrase-31"}


def _verify_email(w: World) -> dict[str, str]:
    from apps.accounts.emails import verification_token

    return {"token": verification_token(user=w.alice, email=w.alice.email)}


def _checkout(w: World) -> dict[str, Any]:
    return dict(CHECKOUT_BODY)  # with an email, so that a guest's body is valid too


def _voucher() -> str:
    from apps.pricing.models import Voucher

    Voucher.objects.get_or_create(code="MATRIX10", defaults={"kind": "percentage", "value": 10})
    return "matrix10"


def _rule(kind: str) -> Kwargs:
    """A pricing rule of this kind to address (created on demand, before the snapshot)."""

    def make(w: World) -> dict[str, Any]:
        from apps.pricing import factories
        from apps.pricing.models import ShippingMethod, ShippingZone

        zone, _ = ShippingZone.objects.get_or_create(name="Matrix", defaults={"countries": ["JP"]})
        objects: dict[str, Callable[[], Any]] = {
            "zone": lambda: zone,
            "method": lambda: ShippingMethod.objects.get_or_create(
                zone=zone, code="matrix", defaults={"name": "M", "price": "1.00"}
            )[0],
            "class": lambda: factories.tax_class_get("matrix"),
            "rate": lambda: factories.tax_rate_create("JP", "10.00"),
            "voucher": lambda: factories.voucher_create("MATRIXV"),
            "promotion": lambda: factories.promotion_create("Matrix sale"),
        }
        return {"pk": objects[kind]().pk}

    return make


def _zone_id(w: World) -> int:
    from apps.pricing.models import ShippingZone

    return ShippingZone.objects.get_or_create(name="Matrix", defaults={"countries": ["JP"]})[0].pk


def _tax_rate_body(w: World) -> dict[str, Any]:
    from apps.pricing.factories import tax_class_get

    tax_class_get("standard")
    return {"country": "JP", "tax_class": "standard", "rate": "10.00"}


_PRICING_BODIES: dict[str, Body] = {
    "shipping-zone": lambda w: {"name": "Matrix new", "countries": ["KR"]},
    "shipping-method": lambda w: {"zone": _zone_id(w), "code": "new", "name": "N", "price": "2.00"},
    "tax-class": lambda w: {"code": "matrix-new", "name": "New"},
    "tax-rate": _tax_rate_body,
    "voucher": lambda w: {"code": "MATRIXNEW", "kind": "percentage", "value": "5"},
    "promotion": lambda w: {"name": "New sale", "kind": "fixed", "value": "1.00"},
}
_PRICING_KINDS = {
    "shipping-zone": "zone",
    "shipping-method": "method",
    "tax-class": "class",
    "tax-rate": "rate",
    "voucher": "voucher",
    "promotion": "promotion",
}


def _pricing_entries() -> dict[tuple[str, str], Entry]:
    entries: dict[tuple[str, str], Entry] = {}
    for name, kind in _PRICING_KINDS.items():
        entries[(f"{name}-list", "GET")] = Entry(STAFF, **STAFF_ONLY, staff=200)
        entries[(f"{name}-list", "POST")] = Entry(
            STAFF, **STAFF_ONLY, staff=201, body=_PRICING_BODIES[name]
        )
        entries[(f"{name}-detail", "GET")] = Entry(
            STAFF, **STAFF_ONLY, staff=200, kwargs=_rule(kind)
        )
        entries[(f"{name}-detail", "PATCH")] = Entry(
            STAFF, **STAFF_ONLY, staff=200, kwargs=_rule(kind), body=lambda w: {}
        )
        entries[(f"{name}-detail", "DELETE")] = Entry(
            STAFF, **STAFF_ONLY, staff=204, kwargs=_rule(kind)
        )
    return entries


def _fulfilment_body(w: World) -> dict[str, Any]:
    line = w.paid_order.lines.order_by("id").first()
    assert line is not None
    return {"lines": [{"line": line.pk, "quantity": 1}], "warehouse": "default"}


def _parcel(w: World) -> dict[str, Any]:
    """A pending parcel of A's paid order (made before the snapshot)."""
    from apps.orders.fulfilments import fulfilment_create

    parcel = fulfilment_create(order=w.paid_order, actor=w.staff, **_fulfilment_body(w))
    return {"pk": w.paid_order.pk, "number": parcel.number}


def _shipped(w: World) -> Any:
    """A's order with both units shipped (made on demand, before the snapshot)."""
    from apps.orders.models import Order
    from apps.returns.factories import order_shipped

    found = Order.objects.filter(user=w.alice, status="fulfilled").first()
    return found or order_shipped(user=w.alice, lines=[(w.variant, 2)])


def _return_ask(w: World) -> dict[str, Any]:
    return {"lines": [{"line": _shipped(w).lines.get().pk, "quantity": 1}], "reason": "damaged"}


def _return_in(status: str) -> Kwargs:
    """A return of A's shipped order, moved on to ``status`` through the services."""

    def make(w: World) -> dict[str, Any]:
        from apps.returns import services
        from apps.returns.factories import return_made, return_received

        order = _shipped(w)
        made = order.returns.filter(status=status).first()
        if made is None:
            made = return_made(order, [(order.lines.get(), 1)], actor=w.alice)
            if status == "approved":
                services.return_approve(return_request=made, actor=w.staff)
            if status == "received":
                return_received(made, actor=w.staff, line=order.lines.get().pk, quantity=1)
        return {"number": made.number}

    return make


def _order_return_requested(w: World) -> dict[str, Any]:
    """A's shipped order and a requested return of it (``/orders/{id}/returns/{number}/``)."""
    return {"pk": _shipped(w).pk, **_return_in("requested")(w)}


def _receive_body(w: World) -> dict[str, Any]:
    line = _shipped(w).lines.get().pk
    return {"lines": [{"line": line, "quantity": 1, "restock": True, "warehouse": "default"}]}


def _webhook_body(w: World) -> bytes:
    return payment_event_body(w.payment, event_id="evt_matrix_delivery")


def _sandbox_charge(w: World) -> dict[str, str]:
    """A's pending payment waiting on the sandbox's bank page (3-D Secure)."""
    from apps.payments.models import SandboxCharge

    charge = SandboxCharge.objects.create(
        idempotency_key=w.payment.idempotency_key,
        token="tok_requiresAction",
        amount=w.payment.amount,
        currency=w.payment.currency,
        status=SandboxCharge.Status.REQUIRES_ACTION,
    )
    type(w.payment).objects.filter(pk=w.payment.pk).update(
        status="requires_action", provider_reference=charge.id
    )
    return {"charge_id": charge.id}


def _webhook_headers(w: World) -> dict[str, str]:
    return sandbox_sign(_webhook_body(w))


PUBLIC, SELF, OWNED, STAFF = "public", "self", "owned", "staff"
OWNED_STAFF, SIGNED, SESSION_STAFF = "owned_staff", "signed", "session_staff"

STAFF_ONLY = {"anonymous": 401, "customer_a": 403, "customer_b": 403}

# (route name, method) -> what each caller gets. The URL names A's objects.
# fmt: off
MATRIX: dict[tuple[str, str], Entry] = {
    # --- accounts: registration and tokens are public; the profile is the caller's own
    ("api-root", "GET"): Entry(PUBLIC, 200, 200, 200, 200),
    ("auth-register", "POST"): Entry(
        PUBLIC, 201, 201, 201, 201,
        body=lambda w: {"email": "new.customer@example.com", "password": "a-long-new-passphrase-1"},
    ),
    ("auth-token", "POST"): Entry(
        PUBLIC, 200, 200, 200, 200, body=lambda w: {"email": w.alice.email, "password": PASSWORD}
    ),
    ("auth-token-refresh", "POST"): Entry(PUBLIC, 200, 200, 200, 200, body=_refresh),
    ("auth-logout", "POST"): Entry(PUBLIC, 204, 204, 204, 204, body=_refresh),
    ("auth-me", "GET"): Entry(SELF, 401, 200, 200, 200),
    ("auth-me", "PATCH"): Entry(SELF, 401, 200, 200, 200, body=lambda w: {"first_name": "New"}),
    ("auth-me", "DELETE"): Entry(
        SELF, 401, 204, 204, 204, body=lambda w: {"password": PASSWORD}
    ),
    ("auth-me-export", "GET"): Entry(SELF, 401, 200, 200, 200),
    ("auth-email", "POST"): Entry(
        SELF, 401, 202, 202, 202,
        body=lambda w: {"email": "changed@example.com", "password": PASSWORD},
    ),
    # Always 202: the answer never says whether the address has an account.
    ("auth-password-reset", "POST"): Entry(
        PUBLIC, 202, 202, 202, 202, body=lambda w: {"email": w.alice.email}
    ),
    ("auth-password-reset-confirm", "POST"): Entry(
        PUBLIC, 204, 204, 204, 204, body=_reset_confirm
    ),
    ("auth-verify-email", "POST"): Entry(PUBLIC, 200, 200, 200, 200, body=_verify_email),
    ("auth-password", "POST"): Entry(
        SELF, 401, 204, 204, 204,
        body=lambda w: {"current_password": PASSWORD, "new_password": "another-long-passphrase-2"},
    ),
    # --- addresses: the caller's own; another's is a 404, for staff too
    ("address-list", "GET"): Entry(SELF, 401, 200, 200, 200),
    ("address-list", "POST"): Entry(SELF, 401, 201, 201, 201, body=lambda w: ADDRESS_BODY),
    ("address-detail", "GET"): Entry(OWNED, 401, 200, 404, 404, kwargs=_pk("address")),
    ("address-detail", "PUT"): Entry(
        OWNED, 401, 200, 404, 404, kwargs=_pk("address"), body=lambda w: ADDRESS_BODY
    ),
    ("address-detail", "PATCH"): Entry(
        OWNED, 401, 200, 404, 404, kwargs=_pk("address"), body=lambda w: {"city": "Hamburg"}
    ),
    ("address-detail", "DELETE"): Entry(OWNED, 401, 204, 404, 404, kwargs=_pk("address")),
    # --- catalogue: public to read, staff to write; variants are staff-only
    ("category-list", "GET"): Entry(PUBLIC, 200, 200, 200, 200),
    ("category-list", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=201, body=lambda w: {"name": "New", "slug": "new-category"}
    ),
    ("category-detail", "GET"): Entry(PUBLIC, 200, 200, 200, 200, kwargs=_slug("category")),
    ("category-detail", "PUT"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_slug("category"), body=lambda w: {"name": "Re"}
    ),
    ("category-detail", "PATCH"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_slug("category"), body=lambda w: {"name": "Re"}
    ),
    ("category-detail", "DELETE"): Entry(STAFF, **STAFF_ONLY, staff=204, kwargs=_slug("category")),
    ("product-list", "GET"): Entry(PUBLIC, 200, 200, 200, 200),
    ("product-list", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=201,
        body=lambda w: {"category": w.category.slug, "name": "New", "slug": "new-product"},
    ),
    ("product-detail", "GET"): Entry(PUBLIC, 200, 200, 200, 200, kwargs=_slug("product")),
    ("product-detail", "PUT"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_slug("product"),
        body=lambda w: {"category": w.category.slug, "name": "Renamed"},
    ),
    ("product-detail", "PATCH"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_slug("product"), body=lambda w: {"name": "Re"}
    ),
    ("product-detail", "DELETE"): Entry(STAFF, **STAFF_ONLY, staff=204, kwargs=_slug("product")),
    ("variant-list", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200),
    ("variant-list", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=201,
        body=lambda w: {"product": w.product.slug, "sku": "NEW-1", "name": "New", "price": "9.50"},
    ),
    ("variant-detail", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("variant")),
    ("variant-detail", "PUT"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("variant"),
        body=lambda w: {"sku": w.variant.sku, "name": "Renamed", "price": "11.00"},
    ),
    ("variant-detail", "PATCH"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("variant"), body=lambda w: {"name": "Re"}
    ),
    ("variant-detail", "DELETE"): Entry(STAFF, **STAFF_ONLY, staff=204, kwargs=_pk("variant")),
    ("warehouse-list", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200),
    ("warehouse-list", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=201,
        body=lambda w: {"code": "north", "name": "North", "country": "SE", "priority": 5},
    ),
    ("warehouse-detail", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("warehouse")),
    ("warehouse-detail", "PUT"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("warehouse"),
        body=lambda w: {"code": w.warehouse.code, "name": "Renamed", "country": "DE"},
    ),
    ("warehouse-detail", "PATCH"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("warehouse"), body=lambda w: {"priority": 3}
    ),
    ("warehouse-detail", "DELETE"): Entry(
        STAFF, **STAFF_ONLY, staff=204, kwargs=_pk("warehouse")
    ),
    ("variant-adjust-stock", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("variant"),
        body=lambda w: {"quantity": 5, "reason": "receive"},
    ),
    ("variant-movements", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("variant")),
    ("variant-low-stock-threshold", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("variant"), body=lambda w: {"threshold": 3}
    ),
    # --- carts: a user's cart only for that user (staff included); guests by the cart id
    ("cart-list", "POST"): Entry(PUBLIC, 201, 200, 201, 201, body=lambda w: {}),
    ("cart-detail", "GET"): Entry(OWNED, 404, 200, 404, 404, kwargs=_pk("cart")),
    ("cart-items", "POST"): Entry(
        OWNED, 404, 200, 404, 404, kwargs=_pk("cart"),
        body=lambda w: {"variant_id": w.variant.pk, "quantity": 2},
    ),
    ("cart-item", "PATCH"): Entry(
        OWNED, 404, 200, 404, 404,
        kwargs=lambda w: {"pk": w.cart.pk, "item_id": w.item.pk},
        body=lambda w: {"quantity": 3},
    ),
    ("cart-item", "DELETE"): Entry(
        OWNED, 404, 200, 404, 404, kwargs=lambda w: {"pk": w.cart.pk, "item_id": w.item.pk}
    ),
    ("cart-claim", "POST"): Entry(OWNED, 401, 200, 404, 404, kwargs=_pk("cart"), body=lambda w: {}),
    ("cart-shipping-methods", "GET"): Entry(OWNED, 404, 200, 404, 404, kwargs=_pk("cart")),
    ("cart-voucher", "POST"): Entry(
        OWNED, 404, 200, 404, 404, kwargs=_pk("cart"), body=lambda w: {"code": _voucher()}
    ),
    ("cart-voucher", "DELETE"): Entry(OWNED, 404, 200, 404, 404, kwargs=_pk("cart")),
    ("cart-checkout-checkout", "POST"): Entry(
        OWNED, 404, 201, 404, 404, kwargs=_pk("cart"), body=_checkout
    ),
    # --- orders: the owner's (or a guest's by token); staff see all of them
    ("order-list", "GET"): Entry(SELF, 401, 200, 200, 200),
    ("order-detail", "GET"): Entry(OWNED, 404, 200, 404, 200, kwargs=_pk("pending_order")),
    ("order-events", "GET"): Entry(OWNED, 404, 200, 404, 200, kwargs=_pk("pending_order")),
    ("order-cancel", "POST"): Entry(
        OWNED, 404, 200, 404, 200, kwargs=_pk("pending_order"), body=lambda w: {"reason": "x"}
    ),
    ("order-fulfil", "POST"): Entry(
        OWNED_STAFF, 401, 403, 404, 200, kwargs=_pk("paid_order"),
        body=lambda w: {"carrier": "DHL", "tracking_number": "00340434"},
    ),
    ("order-fulfilments", "POST"): Entry(
        OWNED_STAFF, 401, 403, 404, 201, kwargs=_pk("paid_order"), body=_fulfilment_body
    ),
    ("order-fulfilment-ship", "POST"): Entry(OWNED_STAFF, 401, 403, 404, 200, kwargs=_parcel),
    ("order-fulfilment-cancel", "POST"): Entry(OWNED_STAFF, 401, 403, 404, 200, kwargs=_parcel),
    ("order-payment-pay", "POST"): Entry(
        OWNED, 404, 202, 404, 202, kwargs=_pk("failed_order"),
        body=lambda w: {"provider": "sandbox", "token": "tok_visa"},
    ),
    ("order-payment-refund", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=202, kwargs=_pk("paid_order"),
        body=lambda w: {"amount": "5.00", "reason": "damaged"},
    ),
    # --- returns: asked for by the order's owner (or a guest by token); staff move them on
    ("order-return-returns", "GET"): Entry(OWNED, 404, 200, 404, 200, kwargs=_pk("paid_order")),
    ("order-return-returns", "POST"): Entry(
        OWNED, 404, 201, 404, 201, kwargs=lambda w: {"pk": _shipped(w).pk}, body=_return_ask
    ),
    ("order-return-return-cancel", "POST"): Entry(
        OWNED, 404, 200, 404, 200, kwargs=_order_return_requested, body=lambda w: {}
    ),
    ("return-list", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200),
    ("return-detail", "GET"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_return_in("requested")
    ),
    ("return-approve", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_return_in("requested"), body=lambda w: {}
    ),
    ("return-reject", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_return_in("requested"),
        body=lambda w: {"staff_note": "Worn"},
    ),
    ("return-receive", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_return_in("approved"), body=_receive_body
    ),
    ("return-cancel", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_return_in("requested"), body=lambda w: {}
    ),
    ("return-refund", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=202, kwargs=_return_in("received"), body=lambda w: {}
    ),
    ("payment-detail", "GET"): Entry(OWNED, 404, 200, 404, 200, kwargs=_pk("payment")),
    ("payment-refresh", "POST"): Entry(OWNED, 404, 200, 404, 200, kwargs=_pk("payment")),
    # --- the sandbox's simulated bank page: the unguessable charge id is the secret
    ("payment-sandbox-authenticate", "GET"): Entry(
        PUBLIC, 200, 200, 200, 200, kwargs=_sandbox_charge
    ),
    # --- provider webhooks: the signature is the authentication; who calls does not matter
    ("payment-webhook", "POST"): Entry(
        SIGNED, 200, 200, 200, 200,
        kwargs=lambda w: {"provider": "sandbox"},
        body=_webhook_body,
        headers=_webhook_headers,
    ),
    # --- ops: staff only (JWT or the admin session)
    ("ops-probe-list", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=201, body=lambda w: {"queue": "default"}
    ),
    ("ops-probe-detail", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("probe")),
    ("ops-overview-list", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200),
    ("ops-task-list", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200),
    ("ops-task-detail", "GET"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=lambda w: {"task_id": w.task.task_id}
    ),
    ("ops-task-retry", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=202, kwargs=lambda w: {"task_id": w.task.task_id}
    ),
    ("ops-webhook-list", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200),
    ("ops-webhook-detail", "GET"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("webhook_event")
    ),
    ("ops-webhook-replay", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=202, kwargs=_pk("webhook_event")
    ),
    ("ops-payment-stuck", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200),
    ("metrics", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200),
    # --- outbound webhooks: staff only
    ("webhook-endpoint-list", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200),
    ("webhook-endpoint-list", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=201,
        body=lambda w: {"url": "https://erp.example.com/hooks", "events": ["order.paid"]},
    ),
    ("webhook-endpoint-detail", "GET"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("webhook_endpoint")
    ),
    ("webhook-endpoint-detail", "PATCH"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("webhook_endpoint"),
        body=lambda w: {"description": "ERP"},
    ),
    ("webhook-endpoint-detail", "DELETE"): Entry(
        STAFF, **STAFF_ONLY, staff=204, kwargs=_pk("webhook_endpoint")
    ),
    ("webhook-endpoint-rotate-secret", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("webhook_endpoint")
    ),
    ("webhook-delivery-list", "GET"): Entry(STAFF, **STAFF_ONLY, staff=200),
    ("webhook-delivery-detail", "GET"): Entry(
        STAFF, **STAFF_ONLY, staff=200, kwargs=_pk("webhook_delivery")
    ),
    ("webhook-delivery-replay", "POST"): Entry(
        STAFF, **STAFF_ONLY, staff=202, kwargs=_pk("webhook_delivery")
    ),
    # The dashboard page: admin session login (JWT does not apply); others are sent to it.
    ("ops-dashboard", "GET"): Entry(SESSION_STAFF, 302, 302, 302, 200),
    # --- documents and probes: public
    ("schema", "GET"): Entry(PUBLIC, 200, 200, 200, 200),
    ("docs", "GET"): Entry(PUBLIC, 200, 200, 200, 200),
    ("healthz", "GET"): Entry(PUBLIC, 200, 200, 200, 200),
    ("readyz", "GET"): Entry(PUBLIC, 200, 200, 200, 200),
}
MATRIX.update(_pricing_entries())  # staff-only pricing rules: /pricing/...
# fmt: on


# --- Discovery ---------------------------------------------------------------------------


def _patterns(
    patterns: list[URLPattern | URLResolver], prefix: str = ""
) -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue  # the Django admin: its own login, outside the API
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _declared_methods(pattern: URLPattern) -> list[str] | str:
    callback = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions:  # a ViewSet route: its method -> action map
        return sorted(method.upper() for method in actions)
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is not None:  # an APIView or Django class-based view
        return sorted(m.upper() for m in HTTP_METHODS if hasattr(view_class, m.lower()))
    return PROBED


def discovered_routes() -> dict[str, list[str] | str]:
    """Route name -> methods (or ``PROBED``), for every named route outside the admin."""
    routes: dict[str, list[str] | str] = {}
    for route, pattern in _patterns(get_resolver().url_patterns):
        assert pattern.name, f"route {route!r} has no name: name it, then add it to MATRIX"
        assert pattern.name not in routes, f"two routes are named {pattern.name!r}"
        routes[pattern.name] = _declared_methods(pattern)
    return routes


def _probe_methods(name: str) -> list[str]:
    """The methods a function view answers with anything but 405."""
    client = Client()
    url = reverse(name)
    return [m for m in HTTP_METHODS if client.generic(m, url).status_code != 405]


def _methods_to_check(name: str, methods: list[str] | str) -> list[str]:
    """A view's declared methods; for a function view, those its MATRIX entries name
    (``test_every_route_and_method_has_an_entry`` asks it which others it answers)."""
    if methods != PROBED:
        return list(methods)
    return [method for method in HTTP_METHODS if (name, method) in MATRIX] or ["GET"]


ROUTES = discovered_routes()
CASES = [
    (name, method, role)
    for name, methods in sorted(ROUTES.items())
    for method in _methods_to_check(name, methods)
    for role in ROLES
]


# --- Running one case --------------------------------------------------------------------


@pytest.fixture
def world(customer: User, other_customer: User, staff: User) -> World:
    return world_build(alice=customer, bob=other_customer, staff=staff)


def _user(world: World, role: str) -> User | None:
    return {
        "anonymous": None,
        "customer_a": world.alice,
        "customer_b": world.bob,
        "staff": world.staff,
    }[role]


def _client(world: World, role: str, entry: Entry) -> APIClient:
    """JWT for the API; the admin session for the ``/ops/`` page."""
    user = _user(world, role)
    if entry.kind == SESSION_STAFF:
        client = APIClient()
        if user is not None:
            client.force_login(user)  # the page's login; a JWT would be ignored here
        return client
    return jwt_client(user)


def _request(world: World, entry: Entry) -> tuple[dict[str, Any], dict[str, str]]:
    """The body and headers of a request, as ``client.generic`` keyword arguments."""
    kwargs: dict[str, Any] = {}
    body = entry.body(world) if entry.body is not None else None
    if body is not None:
        kwargs["data"] = body if isinstance(body, bytes) else json.dumps(body).encode()
        kwargs["content_type"] = "application/json"
    headers = {
        f"HTTP_{key.upper().replace('-', '_')}": value
        for key, value in (entry.headers(world) if entry.headers else {}).items()
    }
    return kwargs, headers


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "role"), CASES, ids=["-".join(c) for c in CASES])
def test_route_answers_each_caller_as_the_matrix_says(
    world: World, name: str, method: str, role: str
) -> None:
    entry = MATRIX.get((name, method))
    if entry is None:
        pytest.fail(f"no MATRIX entry for {method} {name}: decide who may call it and add one")
    client = _client(world, role, entry)
    url = reverse(name, kwargs=entry.kwargs(world) or None)
    body, headers = _request(world, entry)
    before = db_snapshot()

    response = client.generic(method, url, **body, **headers)

    expected = entry.expected(role)
    assert response.status_code == expected, (
        f"{method} {name} as {role}: {response.status_code}, expected {expected}: "
        f"{response.content[:300]!r}"
    )
    if expected == 302:
        assert response["Location"].startswith(reverse("admin:login"))
    if expected >= 400:
        error = response.json()
        assert set(error) == {"error", "details"}, error
        assert isinstance(error["error"], str)
        if expected == 404:
            assert error["error"] == "not_found"
        assert db_snapshot() == before, f"{method} {name} as {role} was refused but wrote"


# --- The table itself ------------------------------------------------------------------


@pytest.mark.django_db
def test_every_route_and_method_has_an_entry() -> None:
    missing = []
    for name, methods in sorted(ROUTES.items()):
        listed = _probe_methods(name) if methods == PROBED else methods
        missing += [f"{method} {name}" for method in listed if (name, method) not in MATRIX]
    assert not missing, "routes without an access decision in MATRIX: " + ", ".join(missing)


@pytest.mark.django_db
def test_matrix_has_no_entry_for_a_route_that_is_gone() -> None:
    known = {
        (name, method)
        for name, methods in ROUTES.items()
        for method in (_probe_methods(name) if methods == PROBED else methods)
    }
    assert set(MATRIX) <= known, f"stale MATRIX entries: {sorted(set(MATRIX) - known)}"


@pytest.mark.parametrize("key", sorted(MATRIX), ids=lambda key: f"{key[0]}-{key[1]}")
def test_matrix_follows_the_policy(key: tuple[str, str]) -> None:
    entry = MATRIX[key]
    if entry.kind == OWNED:
        assert entry.customer_b == 404, "another customer's object is a 404, never a 403 or 200"
        assert entry.anonymous in (401, 404)
        assert 200 <= entry.customer_a < 300
    elif entry.kind == STAFF:
        assert (entry.anonymous, entry.customer_a, entry.customer_b) == (401, 403, 403)
        assert 200 <= entry.staff < 300
    elif entry.kind == OWNED_STAFF:
        assert (entry.anonymous, entry.customer_a, entry.customer_b) == (401, 403, 404)
    elif entry.kind == SELF:
        assert entry.anonymous == 401
    elif entry.kind == SESSION_STAFF:
        assert (entry.anonymous, entry.customer_a, entry.customer_b, entry.staff) == (
            302,
            302,
            302,
            200,
        )
    else:
        assert entry.kind in (PUBLIC, SIGNED)


def test_the_matrix_covers_this_many_route_method_role_checks() -> None:
    """The count the hardening issue asks for, kept honest: one per parametrized case."""
    routes = {name for name, *_ in CASES}
    operations = {(name, method) for name, method, *_ in CASES}
    print(
        f"\naccess matrix: {len(routes)} routes, {len(operations)} route x method, "
        f"{len(CASES)} route x method x role checks"
    )
    assert len(operations) == len(MATRIX)


# --- Lists and guests --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["address-list", "order-list"])
def test_lists_never_show_another_customers_objects(world: World, name: str) -> None:
    a_ids = {
        "address-list": {str(world.address.pk)},
        "order-list": {
            str(order.pk) for order in (world.pending_order, world.paid_order, world.failed_order)
        },
    }[name]

    as_b = jwt_client(world.bob).get(reverse(name)).json()["results"]
    as_a = jwt_client(world.alice).get(reverse(name)).json()["results"]

    assert not a_ids & {str(row["id"]) for row in as_b}
    assert a_ids <= {str(row["id"]) for row in as_a}
    if name == "order-list":  # and no guest order shows up in a customer's list
        guest = {str(world.guest_order.pk), str(world.other_guest_order.pk)}
        assert not guest & {str(row["id"]) for row in as_a + as_b}


GUEST_ORDER_ROUTES = [
    ("order-detail", "GET"),
    ("order-events", "GET"),
    ("order-cancel", "POST"),
    ("order-return-returns", "GET"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), GUEST_ORDER_ROUTES)
@pytest.mark.parametrize("caller", ["anonymous", "customer_b"])
def test_a_guest_order_opens_with_its_own_token_only(
    world: World, name: str, method: str, caller: str
) -> None:
    client = jwt_client(world.bob if caller == "customer_b" else None)
    url = reverse(name, kwargs={"pk": world.guest_order.pk})
    before = db_snapshot()

    refused = [
        client.generic(method, url, data=b"{}", content_type="application/json", **headers)
        for headers in (
            {},
            {"HTTP_X_ORDER_TOKEN": OTHER_GUEST_TOKEN},  # another guest order's token
            {"HTTP_X_ORDER_TOKEN": GUEST_TOKEN.upper()},
            {"HTTP_X_ORDER_TOKEN": GUEST_TOKEN[:-1]},
        )
    ]
    assert [r.status_code for r in refused] == [404] * 4
    assert all(r.json()["error"] == "not_found" for r in refused)
    assert db_snapshot() == before

    opened = client.generic(
        method, url, data=b"{}", content_type="application/json", HTTP_X_ORDER_TOKEN=GUEST_TOKEN
    )
    assert opened.status_code == 200, opened.content
    if name not in ("order-events", "order-return-returns"):  # those two answer lists
        assert opened.json()["id"] == str(world.guest_order.pk)


@pytest.mark.django_db
def test_a_guest_payment_opens_with_its_orders_token_only(world: World) -> None:
    url = reverse("payment-detail", kwargs={"pk": world.guest_payment.pk})
    client = APIClient()

    assert client.get(url).status_code == 404
    assert client.get(url, HTTP_X_ORDER_TOKEN=OTHER_GUEST_TOKEN).status_code == 404
    opened = client.get(url, HTTP_X_ORDER_TOKEN=GUEST_TOKEN)
    assert opened.status_code == 200
    assert opened.json()["order"] == str(world.guest_order.pk)
    # A token never opens a signed-in customer's order or payment.
    mine = reverse("payment-detail", kwargs={"pk": world.payment.pk})
    assert client.get(mine, HTTP_X_ORDER_TOKEN=GUEST_TOKEN).status_code == 404


@pytest.mark.django_db
def test_a_guest_cart_opens_by_its_own_id_only(world: World) -> None:
    client = APIClient()
    own = client.get(reverse("cart-detail", kwargs={"pk": world.guest_cart.pk}))
    assert own.status_code == 200
    assert own.json()["id"] == str(world.guest_cart.pk)
    assert len(own.json()["items"]) == 1
    # The other guest cart is that guest's; it opens by its own id, and shows its own lines.
    other = client.get(reverse("cart-detail", kwargs={"pk": world.other_guest_cart.pk}))
    assert other.json()["items"] == []
    # A signed-in customer's cart never opens by its id alone.
    before = db_snapshot()
    for name, kwargs, method in [
        ("cart-detail", {"pk": world.cart.pk}, "GET"),
        ("cart-items", {"pk": world.cart.pk}, "POST"),
        ("cart-checkout-checkout", {"pk": world.cart.pk}, "POST"),
    ]:
        body = {
            "cart-detail": {},
            "cart-items": {"variant_id": world.variant.pk, "quantity": 1},
            "cart-checkout-checkout": CHECKOUT_BODY,
        }[name]
        response = client.generic(
            method,
            reverse(name, kwargs=kwargs),
            data=json.dumps(body),
            content_type="application/json",
        )
        assert response.status_code == 404, (name, response.content)
    assert db_snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/api/v1/auth/register.json", "/api/v1/orders.json", "/api/v1/carts/{cart}.json"],
)
def test_there_are_no_format_suffix_twins_of_the_routes(world: World, path: str) -> None:
    """``.json`` twins passed ``format`` to actions that do not take it: each was a 500."""
    client = jwt_client(world.alice)
    for method in ("GET", "POST"):
        response = client.generic(method, path.format(cart=world.cart.pk))
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


@pytest.mark.django_db
def test_the_admin_lives_at_the_configured_url(client: Client) -> None:
    response = client.get("/" + settings.ADMIN_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/" + settings.ADMIN_URL + "login/")
