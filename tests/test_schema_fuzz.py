"""Schema fuzzing: schemathesis against the project's own OpenAPI document, in process.

The document comes from drf-spectacular's generator (the one ``/api/v1/schema/``
serves) and the requests go to Django's WSGI application in this process: no
server, no network. Every operation is fuzzed twice, as a customer and as staff,
with a fixed seed and a bounded number of examples, through schemathesis's
examples, coverage (boundary and negative values, unexpected methods and content
types) and fuzzing phases, positive and negative data. The checks:

- no 5xx, ever (``not_a_server_error``);
- the status code, content type, headers and body are the documented ones
  (``status_code_conformance``, ``content_type_conformance``,
  ``response_headers_conformance``, ``response_schema_conformance``);
- data the document calls invalid is refused (``negative_data_rejection``), an
  undocumented method is a 405 (``unsupported_method``), authentication is not
  ignored (``ignored_auth``);
- every error has the project's shape ``{"error": str, "details": dict}``
  (``error_body_has_the_error_shape``, below).

Path parameters are drawn, most of the time, from objects that exist (the
customer's address, cart, orders and payment; a guest order and its token; the
catalogue; a webhook event and a task result), so bodies reach the services
behind the 404; the rest of the time they are generated. Each request runs in a
savepoint that is rolled back: every example starts from the same data, and the
run is the same on every machine. Throttle rates are raised for the run (the
throttles are tested in ``test_throttle_multiprocess.py``).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.throttling import SimpleRateThrottle

from workers.celery import app as celery_app

SEED = 20_240_808
MAX_EXAMPLES = 20
SCOPES = ("anon", "user", "auth", "checkout", "payment")

# Objects the fixture creates, by id, so that the configuration can name them.
ALICE_ADDRESS_ID = 910_001
BOB_ADDRESS_ID = 910_002
ALICE_CART_ID = uuid.UUID("00000000-0000-4000-8000-00000000ca01")
GUEST_CART_ID = uuid.UUID("00000000-0000-4000-8000-00000000ca02")
ALICE_ITEM_ID = 910_011
GUEST_ITEM_ID = 910_012
ALICE_PENDING_ORDER_ID = uuid.UUID("00000000-0000-4000-8000-0000000000a1")
ALICE_PAID_ORDER_ID = uuid.UUID("00000000-0000-4000-8000-0000000000a2")
GUEST_ORDER_ID = uuid.UUID("00000000-0000-4000-8000-0000000000a3")
BOB_ORDER_ID = uuid.UUID("00000000-0000-4000-8000-0000000000b1")
PAYMENT_IDS = {
    ALICE_PENDING_ORDER_ID: uuid.UUID("00000000-0000-4000-8000-0000000000e1"),
    ALICE_PAID_ORDER_ID: uuid.UUID("00000000-0000-4000-8000-0000000000e2"),
    GUEST_ORDER_ID: uuid.UUID("00000000-0000-4000-8000-0000000000e3"),
    BOB_ORDER_ID: uuid.UUID("00000000-0000-4000-8000-0000000000e4"),
}
GUEST_ORDER_TOKEN = "fuzz-guest-order-token-0123456789abcdef"
CATEGORY_SLUG = "fuzz-shirts"
PRODUCT_SLUG = "fuzz-tee"
VARIANT_ID = 910_021
PROBE_ID = uuid.UUID("00000000-0000-4000-8000-0000000000f1")
TASK_ID = "fuzz-task-0001"
WEBHOOK_EVENT_ID = 910_031


def _known(name: str, values: list[Any]) -> tuple[str, dict[str, Any]]:
    return name, {
        "values": [str(value) if isinstance(value, uuid.UUID) else value for value in values]
    }


# The variant route takes digits (``lookup_value_regex``): its id is a string in the document.


DICTIONARIES = dict(
    [
        _known("addresses", [ALICE_ADDRESS_ID, BOB_ADDRESS_ID]),
        _known("carts", [ALICE_CART_ID, GUEST_CART_ID]),
        _known("items", [ALICE_ITEM_ID, GUEST_ITEM_ID]),
        _known(
            "orders", [ALICE_PENDING_ORDER_ID, ALICE_PAID_ORDER_ID, GUEST_ORDER_ID, BOB_ORDER_ID]
        ),
        _known("payments", list(PAYMENT_IDS.values())),
        _known("order_tokens", [GUEST_ORDER_TOKEN]),
        _known("categories", [CATEGORY_SLUG]),
        _known("products", [PRODUCT_SLUG]),
        _known("variants", [str(VARIANT_ID)]),
        _known("variant_ids", [VARIANT_ID]),
        _known("probes", [PROBE_ID]),
        _known("tasks", [TASK_ID]),
        _known("webhooks", [WEBHOOK_EVENT_ID]),
    ]
)


def _use(dictionary: str, probability: float = 0.8) -> dict[str, Any]:
    return {"dictionary": dictionary, "probability": probability}


# Which existing objects each path parameter (or body field naming an object) is drawn
# from: path regex -> parameters.
KNOWN_PARAMETERS: dict[str, dict[str, Any]] = {
    r"^/api/v1/carts/\{id\}/items/$": {
        "path.id": _use("carts"),
        "body.variant_id": _use("variant_ids"),
    },
    r"^/api/v1/products/$": {"body.category": _use("categories")},
    r"^/api/v1/variants/$": {"body.product": _use("products")},
    r"^/api/v1/addresses/\{id\}/$": {"path.id": _use("addresses")},
    r"^/api/v1/carts/\{id\}/(checkout/|claim/)?$": {"path.id": _use("carts")},
    r"^/api/v1/carts/\{id\}/items/\{item_id\}/$": {
        "path.id": _use("carts"),
        "path.item_id": _use("items"),
    },
    r"^/api/v1/orders/\{id\}/": {
        "path.id": _use("orders"),
        "header.X-Order-Token": _use("order_tokens", 0.5),
    },
    r"^/api/v1/payments/\{id\}/$": {
        "path.id": _use("payments"),
        "header.X-Order-Token": _use("order_tokens", 0.5),
    },
    r"^/api/v1/categories/\{slug\}/$": {"path.slug": _use("categories")},
    r"^/api/v1/products/\{slug\}/$": {
        "path.slug": _use("products"),
        "body.category": _use("categories"),
    },
    r"^/api/v1/variants/\{id\}/": {"path.id": _use("variants")},
    r"^/api/v1/ops/probes/\{id\}/$": {"path.id": _use("probes")},
    r"^/api/v1/ops/tasks/\{task_id\}/": {"path.task_id": _use("tasks")},
    r"^/api/v1/ops/webhooks/\{id\}/": {"path.id": _use("webhooks")},
}


def _config(seed: int) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": seed,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "mode": "all",
                "deterministic": True,
                # Unknown query parameters are ignored, as HTTP APIs do (cache busters,
                # tracking). Unknown body fields are refused: test_bad_inputs.py proves it.
                "allow-extra-parameters": False,
            },
            "phases": {"stateful": {"enabled": False}},
            # A valid request may still be refused (a 404 for someone else's order, a 409
            # for an order in the wrong state): acceptance of valid data is not a rule here.
            "checks": {"positive_data_acceptance": {"enabled": False}},
            "dictionaries": DICTIONARIES,
            "operations": [
                {"include-path-regex": regex, "parameters": parameters}
                for regex, parameters in KNOWN_PARAMETERS.items()
            ],
        }
    )


def openapi_document() -> dict[str, Any]:
    """The document ``/api/v1/schema/`` serves, generated in process."""
    return dict(SchemaGenerator().get_schema(request=None, public=True))


DOCUMENT = openapi_document()
APP = get_wsgi_application()
customer_schema = schemathesis.openapi.from_dict(DOCUMENT, config=_config(SEED))
customer_schema.app = APP
staff_schema = schemathesis.openapi.from_dict(DOCUMENT, config=_config(SEED + 1))
staff_schema.app = APP

pytestmark = pytest.mark.django_db

# Requests sent and seconds spent, by role and operation: the run's example count.
SENT: Counter[tuple[str, str]] = Counter()
SPENT: Counter[tuple[str, str]] = Counter()


@schemathesis.check
def error_body_has_the_error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx and 5xx body is ``{"error": "<code>", "details": {...}}`` in JSON."""
    if response.status_code < 400:
        return None
    if case.method.upper() == "HEAD":
        return None  # no body by definition
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), f"error as {content_type!r}"
    body = response.json()
    assert isinstance(body, dict), f"error body is not an object: {body!r}"
    assert isinstance(body.get("error"), str), f"no string 'error' code: {body!r}"
    assert isinstance(body.get("details"), dict), f"no 'details' object: {body!r}"
    assert set(body) == {"error", "details"}, f"unexpected keys: {sorted(body)}"
    return True


# --- Data ---------------------------------------------------------------------------------


def _create_data() -> dict[str, str]:
    """The objects the dictionaries name; returns an access token per role."""
    from django_celery_results.models import TaskResult

    from apps.accounts.factories import ADDRESS, jwt_token
    from apps.accounts.models import Address, User
    from apps.cart.models import Cart, CartItem
    from apps.catalog.models import Category, Product, Stock, StockMovement, Variant
    from apps.catalog.stock import at_default, stock_apply, warehouse_default
    from apps.ops.models import WorkerProbe
    from apps.orders.models import Order, OrderLine
    from apps.orders.selectors import order_token_hash
    from apps.payments.models import Payment, WebhookEvent

    alice = User.objects.create_user(email="alice@example.com", password="fuzz-pass-alice-1")
    bob = User.objects.create_user(email="bob@example.com", password="fuzz-pass-bob-1")
    staff = User.objects.create_user(
        email="staff@example.com", password="fuzz-pass-staff-1", is_staff=True
    )
    Address.objects.create(id=ALICE_ADDRESS_ID, user=alice, **ADDRESS)
    Address.objects.create(id=BOB_ADDRESS_ID, user=bob, **ADDRESS)

    category = Category.objects.create(slug=CATEGORY_SLUG, name="Fuzz shirts")
    product = Product.objects.create(category=category, slug=PRODUCT_SLUG, name="Fuzz tee")
    variant = Variant.objects.create(
        id=VARIANT_ID, product=product, sku="FUZZ-TEE-M", name="M", price=Decimal("10.00")
    )
    Stock.objects.create(variant=variant, warehouse=warehouse_default(), on_hand=0)
    with transaction.atomic():
        stock_apply(changes=at_default({variant.pk: 50}), reason=StockMovement.Reason.RECEIVE)

    alice_cart = Cart.objects.create(id=ALICE_CART_ID, user=alice)
    guest_cart = Cart.objects.create(id=GUEST_CART_ID)
    CartItem.objects.create(id=ALICE_ITEM_ID, cart=alice_cart, variant=variant, quantity=1)
    CartItem.objects.create(id=GUEST_ITEM_ID, cart=guest_cart, variant=variant, quantity=2)

    def order(order_id: uuid.UUID, *, user: Any, paid: bool = False, token: str = "") -> None:
        made = Order.objects.create(
            id=order_id,
            number=f"FZ-{str(order_id)[-4:].upper()}",
            user=user,
            email=getattr(user, "email", "guest@example.com"),
            status=Order.Status.PAID if paid else Order.Status.PENDING_PAYMENT,
            currency="EUR",
            subtotal=Decimal("20.00"),
            shipping_total=Decimal("4.90"),
            total=Decimal("24.90"),
            shipping_method="standard",
            shipping_address=ADDRESS,
            access_token_hash=order_token_hash(token) if token else "",
            payment_deadline=timezone.now() + timedelta(minutes=30),
            paid_at=timezone.now() if paid else None,
        )
        OrderLine.objects.create(
            order=made,
            variant=variant,
            sku=variant.sku,
            product_name=product.name,
            variant_name=variant.name,
            unit_price=Decimal("10.00"),
            quantity=2,
            line_total=Decimal("20.00"),
        )
        with transaction.atomic():
            stock_apply(
                changes=at_default({variant.pk: -2}), reason=StockMovement.Reason.SALE, order=made
            )
        Payment.objects.create(
            id=PAYMENT_IDS[order_id],
            order=made,
            provider="sandbox",
            payment_method="tok_visa",
            amount=made.total,
            currency="EUR",
            status=Payment.Status.CAPTURED if paid else Payment.Status.PENDING,
            provider_reference="ch_fuzz" if paid else "",
            captured_at=timezone.now() if paid else None,
        )

    order(ALICE_PENDING_ORDER_ID, user=alice)
    order(ALICE_PAID_ORDER_ID, user=alice, paid=True)
    order(GUEST_ORDER_ID, user=None, token=GUEST_ORDER_TOKEN)
    order(BOB_ORDER_ID, user=bob)

    WorkerProbe.objects.create(id=PROBE_ID, queue="default")
    TaskResult.objects.create(
        task_id=TASK_ID,
        task_name="apps.ops.tasks.worker_probe_complete_task",
        status="FAILURE",
        task_args=json.dumps(repr((str(PROBE_ID),))),
        task_kwargs=json.dumps(repr({})),
        traceback="Traceback (most recent call last):\nRuntimeError: broker down",
    )
    WebhookEvent.objects.create(
        id=WEBHOOK_EVENT_ID,
        provider="sandbox",
        event_id="evt_fuzz_1",
        type="charge.succeeded",
        payload={"id": "evt_fuzz_1", "type": "charge.succeeded"},
    )
    return {
        "customer": jwt_token(alice),
        "staff": jwt_token(staff),
    }


@pytest.fixture(scope="module")
def tokens(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, str]]:
    """Create the data once (committed); every test rolls its own changes back."""
    # Django's test client does this too: the handler would otherwise close the
    # connection that holds each test's transaction at the end of every request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
            patch.setattr(
                SimpleRateThrottle, "THROTTLE_RATES", dict.fromkeys(SCOPES, "1000000/min")
            )
            # Thousands of refused requests: their one-line warnings only slow the run.
            patch.setattr(logging.getLogger("django.request"), "level", logging.ERROR)
            # No worker runs here: the overview would wait its full broker timeout each time.
            patch.setattr(settings, "OPS_BROKER_TIMEOUT_SECONDS", 0.05, raising=False)
            # What is published at once (an ops retry) runs in process, inside the
            # rolled-back savepoint: no message is left in the broker for later tests' workers.
            patch.setitem(celery_app.conf, "task_always_eager", True)
            with transaction.atomic():
                tokens = _create_data()
            try:
                yield tokens
            finally:
                from django.core.management import call_command

                call_command("flush", "--noinput", verbosity=0)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _call_and_validate(case: Any, role: str, token: str) -> None:
    operation = (role, f"{case.operation.method.upper()} {case.operation.path}")
    SENT[operation] += 1
    started = time.monotonic()
    with transaction.atomic():
        try:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
        finally:
            transaction.set_rollback(True)  # the next example starts from the same data
            SPENT[operation] += time.monotonic() - started


@customer_schema.parametrize()
def test_fuzz_as_customer(case: Any, tokens: dict[str, str]) -> None:
    _call_and_validate(case, "customer", tokens["customer"])


@staff_schema.parametrize()
def test_fuzz_as_staff(case: Any, tokens: dict[str, str]) -> None:
    _call_and_validate(case, "staff", tokens["staff"])


def test_every_operation_was_fuzzed_for_both_roles() -> None:
    """Runs last in this module: the fuzzing above reached every documented operation."""
    if not SENT:
        pytest.skip("the fuzz tests did not run (deselected)")
    documented = {
        f"{method.upper()} {path}"
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    for role in ("customer", "staff"):
        reached = {operation for (who, operation), count in SENT.items() if who == role}
        assert documented <= reached, f"{role}: never fuzzed {sorted(documented - reached)}"
    total = sum(SENT.values())
    slowest = ", ".join(
        f"{role} {op} {SPENT[role, op]:.1f}s" for (role, op), _ in SPENT.most_common(5)
    )
    print(
        f"\nschemathesis: {total} requests ({sum(SPENT.values()):.0f} s in requests and checks), "
        f"{len(documented)} operations x 2 roles; slowest: {slowest}"
    )
