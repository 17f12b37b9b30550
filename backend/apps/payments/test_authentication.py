"""Customer authentication (3-D Secure) with the sandbox: the whole flow a storefront builds.

Checkout with ``tok_requiresAction`` and a ``return_url`` → the owner reads the payment's
``next_action`` (``redirect_to_url``) → the simulated bank page settles it and sends the
customer back → ``refresh`` and the webhook agree. Paying again while a payment waits
cancels it at the provider; a second success of one order is refunded automatically.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.test import APIClient

from apps.cart.factories import cart_create
from apps.catalog.factories import variant_create
from apps.catalog.models import StockMovement
from apps.core.models import IdempotencyRecord
from apps.orders.factories import CHECKOUT_BODY, checkout_url, order_create
from apps.orders.models import Order, OrderEvent
from apps.payments.conftest import pay_again
from apps.payments.factories import latest_payment, payment_event_body
from apps.payments.models import Payment, Refund, SandboxCharge, SandboxRefund, WebhookEvent
from apps.payments.providers.sandbox import sandbox_authenticate
from apps.payments.services import payment_capture

pytestmark = pytest.mark.django_db

RETURN_URL = "https://shop.example/checkout/done?step=3"
AUTH = {"provider": "sandbox", "token": "tok_requiresAction"}


def checkout(client: APIClient, capture: Any, **payment: Any) -> dict[str, Any]:
    body = copy.deepcopy(CHECKOUT_BODY)
    body["payment"] = {**AUTH, **payment}
    cart = cart_create(lines=[(variant_create(stock=5), 1)])
    with capture(execute=True):
        response = client.post(
            checkout_url(cart), body, format="json", HTTP_IDEMPOTENCY_KEY="checkout-1"
        )
    assert response.status_code == 201, response.content
    return dict(response.json())


def waiting_order(*, user: Any = None, return_url: str = RETURN_URL) -> Order:
    """A signed-in customer's order whose payment waits on the bank page."""
    order = order_create(user=user, payment_method="tok_requiresAction")
    Payment.objects.filter(order=order).update(return_url=return_url)
    payment_capture(payment_id=str(latest_payment(order).pk))
    return order


def payment_url(payment: Payment | str) -> str:
    return f"/api/v1/payments/{getattr(payment, 'pk', payment)}/"


# --- What the client is given, and to whom ------------------------------------------------


def _deliver_succeeded(send_webhook: Callable[..., Any], on_commit: Any, payment: Payment) -> None:
    """The sandbox's ``payment.succeeded`` webhook for ``payment``, delivered and processed."""
    body = payment_event_body(payment)
    with on_commit(execute=True):
        assert send_webhook(body).status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED


def test_the_guest_checkout_then_the_owner_reads_next_action(
    api_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    created = checkout(api_client, django_capture_on_commit_callbacks, return_url=RETURN_URL)
    # The checkout answer (stored for idempotent replays) never carries what to do next.
    assert set(created["payment"]) == {"id", "provider", "status", "amount", "currency"}
    record = IdempotencyRecord.objects.get(key="checkout-1")
    assert "next_action" not in str(record.response_body)

    payment = Payment.objects.get(pk=created["payment"]["id"])
    assert payment.status == Payment.Status.REQUIRES_ACTION
    token = created["access_token"]
    body = api_client.get(payment_url(payment), HTTP_X_ORDER_TOKEN=token).json()
    assert body["status"] == "requires_action"
    assert body["return_url"] == RETURN_URL
    assert body["client_secret"] is None  # the sandbox has none; Stripe's is shown
    action = body["next_action"]
    assert action["type"] == "redirect_to_url"
    assert action["redirect_to_url"]["return_url"] == RETURN_URL
    url = action["redirect_to_url"]["url"]
    assert url == (
        f"http://testserver/api/v1/payments/sandbox/authenticate/{payment.provider_reference}/"
    )
    # Another guest token sees nothing at all; the order list never shows the action.
    assert api_client.get(payment_url(payment), HTTP_X_ORDER_TOKEN="x" * 40).status_code == 404


def test_staff_see_the_payment_but_not_what_the_customer_needs(
    staff_client: APIClient, customer_client: APIClient, customer: Any, other_client: APIClient
) -> None:
    order = waiting_order(user=customer)
    payment = latest_payment(order)
    owner = customer_client.get(payment_url(payment)).json()
    assert owner["next_action"]["type"] == "redirect_to_url"
    staff = staff_client.get(payment_url(payment)).json()
    assert staff["status"] == "requires_action"
    assert staff["next_action"] is None
    assert staff["client_secret"] is None
    assert other_client.get(payment_url(payment)).status_code == 404
    listed = customer_client.get("/api/v1/orders/").json()["results"][0]["payment"]
    assert set(listed) == {"id", "provider", "status", "amount", "currency"}


@pytest.mark.parametrize(
    "return_url",
    [
        "ftp://shop.example/done",
        "https://evil.example/done",
        "/relative/path",
        "https://user:pw@shop.example/done",
        "javascript:alert(1)",
    ],
)
def test_a_bad_return_url_is_a_400_that_changes_nothing(
    api_client: APIClient, django_capture_on_commit_callbacks: Any, return_url: str
) -> None:
    body = copy.deepcopy(CHECKOUT_BODY)
    body["payment"] = {**AUTH, "return_url": return_url}
    cart = cart_create(lines=[(variant_create(stock=5), 1)])
    response = api_client.post(checkout_url(cart), body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "return_url" in str(response.json()["details"])
    assert not Order.objects.exists()


def test_no_allowed_host_refuses_every_return_url(
    customer_client: APIClient, customer: Any, settings: Any
) -> None:
    settings.PAYMENT_RETURN_URL_HOSTS = []
    order = order_create(user=customer, payment_method="tok_chargeDeclined")
    payment_capture(payment_id=str(latest_payment(order).pk))
    response = pay_again(customer_client, order, {**AUTH, "return_url": RETURN_URL})
    assert response.status_code == 400
    assert "none configured" in str(response.json()["details"])
    assert order.payments.count() == 1


# --- The simulated bank page --------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "status", "order_status", "redirect_status"),
    [
        ("succeed", Payment.Status.CAPTURED, Order.Status.PAID, "succeeded"),
        ("fail", Payment.Status.FAILED, Order.Status.PENDING_PAYMENT, "failed"),
    ],
)
def test_the_bank_page_settles_the_payment_and_sends_the_customer_back(
    api_client: APIClient,
    customer: Any,
    result: str,
    status: str,
    order_status: str,
    redirect_status: str,
) -> None:
    order = waiting_order(user=customer)
    payment = latest_payment(order)
    page = f"/api/v1/payments/sandbox/authenticate/{payment.provider_reference}/"
    choices = api_client.get(page).json()
    assert choices["status"] == "requires_action"
    assert choices["succeed_url"] == f"http://testserver{page}?result=succeed"

    response = api_client.get(page, {"result": result})
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        "shop.example",
        "/checkout/done",
    )
    query = parse_qs(location.query)
    assert query == {
        "step": ["3"],
        "payment_id": [str(payment.pk)],
        "redirect_status": [redirect_status],
    }
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, order.status) == (status, order_status)
    assert payment.next_action == {}
    assert payment.client_secret == ""
    # Followed again (a reload): the same answer, nothing applied twice.
    again = api_client.get(page, {"result": "succeed"})
    assert parse_qs(urlsplit(again["Location"]).query)["redirect_status"] == [redirect_status]
    assert latest_payment(order).status == status
    assert OrderEvent.objects.filter(order=order, to_status=Order.Status.PAID).count() == (
        1 if status == Payment.Status.CAPTURED else 0
    )


def test_the_bank_page_without_a_return_url_answers_json(api_client: APIClient) -> None:
    order = waiting_order(return_url="")
    payment = latest_payment(order)
    page = f"/api/v1/payments/sandbox/authenticate/{payment.provider_reference}/"
    response = api_client.get(page, {"result": "succeed"})
    assert response.status_code == 200
    assert response.json()["status"] == "captured"


def test_the_bank_page_refuses_bad_results_and_unknown_charges(api_client: APIClient) -> None:
    order = waiting_order()
    payment = latest_payment(order)
    page = f"/api/v1/payments/sandbox/authenticate/{payment.provider_reference}/"
    refused = api_client.get(page, {"result": "maybe"})
    assert refused.status_code == 400
    assert refused.json()["error"] == "validation_error"
    missing = api_client.get("/api/v1/payments/sandbox/authenticate/ch_sbx_nope/")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert latest_payment(order).status == Payment.Status.REQUIRES_ACTION


def test_the_bank_page_is_gone_when_the_sandbox_is_disabled(
    api_client: APIClient, settings: Any
) -> None:
    order = waiting_order()
    settings.PAYMENT_PROVIDERS = ["stripe"]
    page = f"/api/v1/payments/sandbox/authenticate/{latest_payment(order).provider_reference}/"
    assert api_client.get(page, {"result": "succeed"}).status_code == 404
    assert latest_payment(order).status == Payment.Status.REQUIRES_ACTION


# --- Refresh ------------------------------------------------------------------------------


def test_refresh_applies_what_the_provider_says_and_agrees_with_the_webhook(
    customer_client: APIClient,
    customer: Any,
    send_webhook: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    order = waiting_order(user=customer)
    payment = latest_payment(order)
    # The customer finished the bank page; our webhook has not arrived yet.
    sandbox_authenticate(charge_id=payment.provider_reference, result="succeed")
    assert latest_payment(order).status == Payment.Status.REQUIRES_ACTION
    response = customer_client.post(f"{payment_url(payment)}refresh/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "captured"
    assert response.json()["next_action"] is None
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    # The webhook arrives later: the same service, no second transition.
    _deliver_succeeded(send_webhook, django_capture_on_commit_callbacks, payment)
    assert OrderEvent.objects.filter(order=order, to_status=Order.Status.PAID).count() == 1
    # Refresh again: nothing to ask, the same answer.
    assert customer_client.post(f"{payment_url(payment)}refresh/").json()["status"] == "captured"


def test_refresh_of_another_customers_payment_is_a_404(
    other_client: APIClient, staff_client: APIClient, customer: Any
) -> None:
    order = waiting_order(user=customer)
    payment = latest_payment(order)
    assert other_client.post(f"{payment_url(payment)}refresh/").status_code == 404
    staff = staff_client.post(f"{payment_url(payment)}refresh/")
    assert staff.status_code == 200
    assert staff.json()["status"] == "requires_action"
    assert staff.json()["next_action"] is None


# --- Paying again, and never keeping two charges ------------------------------------------


def test_pay_again_while_requires_action_cancels_the_abandoned_payment(
    customer_client: APIClient, customer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    order = waiting_order(user=customer)
    abandoned = latest_payment(order)
    with django_capture_on_commit_callbacks(execute=True):
        response = pay_again(customer_client, order, HTTP_IDEMPOTENCY_KEY="pay-1")
    assert response.status_code == 202, response.content
    assert response.json()["next_action"] is None
    abandoned.refresh_from_db()
    assert abandoned.status == Payment.Status.CANCELLED
    assert abandoned.next_action == {}
    assert SandboxCharge.objects.get(pk=abandoned.provider_reference).status == "canceled"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert latest_payment(order).status == Payment.Status.CAPTURED
    # The abandoned bank page, followed late, charges nothing.
    page = f"/api/v1/payments/sandbox/authenticate/{abandoned.provider_reference}/"
    customer_client.get(page, {"result": "succeed"})
    abandoned.refresh_from_db()
    assert abandoned.status == Payment.Status.CANCELLED
    assert SandboxCharge.objects.filter(status="succeeded").count() == 1
    assert not Refund.objects.exists()


def test_a_second_success_is_refunded_automatically(
    customer_client: APIClient, customer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The race: the customer finishes the first bank page after paying again."""
    order = waiting_order(user=customer)
    first = latest_payment(order)
    stock_before = StockMovement.objects.count()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = pay_again(customer_client, order)
    assert response.status_code == 202
    cancel, capture = callbacks[-2:]
    # The first bank page succeeds at the provider, the new payment is captured, and
    # only then does the cancel task reach the provider (too late).
    sandbox_authenticate(charge_id=first.provider_reference, result="succeed")
    with django_capture_on_commit_callbacks(execute=True):
        capture()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    with django_capture_on_commit_callbacks(execute=True):
        cancel()

    first.refresh_from_db()
    order.refresh_from_db()
    assert first.status == Payment.Status.DUPLICATE
    assert first.refunded_amount == first.amount
    refund = Refund.objects.get(payment=first)
    assert (refund.kind, refund.status, refund.amount) == (
        Refund.Kind.DUPLICATE_CHARGE,
        Refund.Status.SUCCEEDED,
        Decimal("12.50"),
    )
    [given_back] = SandboxRefund.objects.all()
    assert given_back.charge_id == first.provider_reference
    # The order counted one payment: its status and refunded total do not move.
    assert order.status == Order.Status.PAID
    assert order.refunded_total == 0
    assert StockMovement.objects.count() == stock_before
    notes = list(OrderEvent.objects.filter(order=order).values_list("note", flat=True))
    assert any("refunding it in full automatically" in note for note in notes)
    assert any("Duplicate charge refunded" in note for note in notes)


def test_a_late_webhook_success_of_a_second_payment_is_refunded(
    send_webhook: Callable[..., Any], customer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A provider race reported by webhook: the second success never stays charged."""
    order = waiting_order(user=customer)
    first = latest_payment(order)
    second = Payment.objects.create(
        order=order, provider="sandbox", payment_method="tok_visa", amount=order.total
    )
    Payment.objects.filter(pk=first.pk).update(status=Payment.Status.CANCELLED)
    payment_capture(payment_id=str(second.pk))
    assert latest_payment(order).status == Payment.Status.CAPTURED
    sandbox_authenticate(charge_id=first.provider_reference, result="succeed")
    _deliver_succeeded(send_webhook, django_capture_on_commit_callbacks, first)
    first.refresh_from_db()
    assert first.status == Payment.Status.DUPLICATE
    assert Refund.objects.get(payment=first).status == Refund.Status.SUCCEEDED


# --- Refunds made at the provider, with the sandbox ------------------------------------------


def test_a_sandbox_refund_the_shop_did_not_ask_for_is_recorded_as_external(
    send_webhook: Callable[..., Any], django_capture_on_commit_callbacks: Any
) -> None:
    from apps.payments.factories import order_paid

    order = order_paid()
    payment = latest_payment(order)
    moves = StockMovement.objects.count()
    body = payment_event_body(
        payment, "refund.succeeded", amount="12.50", reason="refunded in the provider's dashboard"
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert send_webhook(body).status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    refund = Refund.objects.get()
    assert (refund.kind, refund.status, refund.restock) == ("external", "succeeded", False)
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.REFUNDED, Decimal("12.50"))
    assert StockMovement.objects.count() == moves
    assert OrderEvent.objects.filter(order=order, to_status=Order.Status.REFUNDED).exists()


def test_a_lost_cancel_is_sent_again_by_the_sweep_until_the_provider_answers(
    customer_client: APIClient, customer: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta
    from unittest import mock

    from django.utils import timezone

    from apps.payments.services import payment_work_redispatch
    from apps.payments.tasks import payment_cancel_task

    order = waiting_order(user=customer)
    abandoned = latest_payment(order)
    with django_capture_on_commit_callbacks(execute=False):  # the broker lost the cancel
        pay_again(customer_client, order, {"provider": "sandbox", "token": "tok_chargeDeclined"})
    Payment.objects.filter(pk=abandoned.pk).update(
        updated_at=timezone.now() - timedelta(seconds=120)
    )
    sent: list[tuple[str, Any]] = []
    with mock.patch(
        "workers.enqueue.publish",
        side_effect=lambda task, arg: sent.append((task.name, arg)) or True,
    ):
        counts = payment_work_redispatch()
    assert counts["cancels"] == 1
    assert ("apps.payments.tasks.payment_cancel_task", str(abandoned.pk)) in sent
    payment_cancel_task.apply(args=[str(abandoned.pk)])
    abandoned.refresh_from_db()
    assert abandoned.provider_cancelled_at is not None
    assert SandboxCharge.objects.get(pk=abandoned.provider_reference).status == "canceled"
    Payment.objects.filter(pk=abandoned.pk).update(
        updated_at=timezone.now() - timedelta(seconds=120)
    )
    with mock.patch("workers.enqueue.publish", return_value=True):
        assert payment_work_redispatch()["cancels"] == 0
