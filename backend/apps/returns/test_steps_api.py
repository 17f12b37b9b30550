"""Staff steps of a return: approve, reject, receive (restock), refund; each once, in order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.accounts.factories import jwt_client
from apps.accounts.models import User
from apps.catalog.factories import variant_create
from apps.catalog.models import Stock, StockMovement, Variant, Warehouse
from apps.catalog.stock import warehouse_default
from apps.notifications.services import email_render
from apps.orders.models import Order, OrderEvent
from apps.payments.models import Refund
from apps.returns.conftest import emails, post, returns_url, step_url
from apps.returns.factories import order_shipped, return_made, return_received
from apps.returns.models import ReturnLine, ReturnRequest
from apps.returns.services import return_approve
from config.testing import db_snapshot

pytestmark = pytest.mark.django_db


def _on_hand(variant: Variant, warehouse: Warehouse) -> int:
    row = Stock.objects.filter(variant=variant, warehouse=warehouse).first()
    return row.on_hand if row else 0


def _step(client: APIClient, number: str, step: str, body: Any = None, **headers: str) -> Any:
    return post(client, step_url(number, step), body, **headers)


@pytest.fixture
def requested(customer: User, tee: Variant, mug: Variant) -> ReturnRequest:
    order = order_shipped(user=customer, lines=[(tee, 3), (mug, 1)])
    tee_line, mug_line = order.lines.order_by("pk")
    return return_made(order, [(tee_line, 2), (mug_line, 1)], actor=customer)


def _tee_line(requested: ReturnRequest) -> ReturnLine:
    """The return's first line: two of the three tees."""
    line = requested.lines.order_by("pk").first()
    assert line is not None
    return line


def test_the_full_life_of_a_return_restocks_to_warehouse_b_and_refunds_prorated_tax(
    customer: User,
    customer_client: APIClient,
    staff_client: APIClient,
    tee: Variant,
    mug: Variant,
    warehouse_b: Warehouse,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # 3 x 10.00 + 1 x 5.00 gross with 19 % tax inside, 2.50 shipping: total 37.50.
    order = order_shipped(user=customer, lines=[(tee, 3), (mug, 1)], tax_rate="19.00")
    assert (order.total, order.tax_total) == (Decimal("37.50"), Decimal("5.59"))
    tee_line = order.lines.order_by("pk")[0]
    default = warehouse_default()
    before_default = _on_hand(tee, default)

    with django_capture_on_commit_callbacks(execute=True):
        created = post(
            customer_client,
            returns_url(order),
            {"lines": [{"line": tee_line.pk, "quantity": 2}], "reason": "size_or_fit"},
        )
        number = created.json()["number"]
        approved = _step(staff_client, number, "approve")
        received = _step(
            staff_client,
            number,
            "receive",
            {"lines": [{"line": tee_line.pk, "quantity": 2, "restock": True, "warehouse": "b"}]},
        )
    assert approved.json()["status"] == "approved"
    assert received.status_code == 200, received.content
    assert received.json()["lines"][0] | {"refund_amount": None, "refund_tax": None} == {
        "line": tee_line.pk,
        "sku": "TEE",
        "name": tee_line.product_name,
        "quantity": 2,
        "quantity_received": 2,
        "restock": True,
        "warehouse": "b",
        "refund_amount": None,
        "refund_tax": None,
    }
    # Restocked to B through the ledger, naming the order; the default warehouse unchanged.
    assert _on_hand(tee, warehouse_b) == 2
    assert _on_hand(tee, default) == before_default
    movement = StockMovement.objects.get(order=order, reason="restock")
    assert (movement.variant_id, movement.warehouse_id, movement.quantity) == (
        tee.pk,
        warehouse_b.pk,
        2,
    )
    tee_line.refresh_from_db()
    assert (tee_line.quantity_fulfilled, tee_line.quantity_returned) == (3, 2)

    with django_capture_on_commit_callbacks(execute=True):
        refunded = _step(staff_client, number, "refund")
    assert refunded.status_code == 202, refunded.content
    assert refunded.json()["status"] == "received"  # until the provider confirms
    assert refunded.json()["refund"]["status"] == "pending"

    refund = Refund.objects.get()
    # Two of three tee units: 20.00 of the line's 30.00 (its discount share included, no
    # shipping); the tax inside is their share of the line's 4.79: 3.19.
    assert (refund.amount, refund.tax_amount, refund.status) == (
        Decimal("20.00"),
        Decimal("3.19"),
        "succeeded",
    )
    assert (refund.restock, refund.restock_lines) == (False, [])  # receiving restocked
    assert StockMovement.objects.filter(order=order, reason="restock").count() == 1
    row = ReturnRequest.objects.get()
    assert (row.status, row.refund_id) == ("refunded", refund.pk)
    assert row.refunded_at is not None
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == ("partially_refunded", Decimal("20.00"))
    # One email at approval and one at refund, sent; no generic refund email besides.
    assert emails(order)[-2:] == [("return_approved", number), ("return_refunded", number)]
    assert not [kind for kind, _ in emails(order) if kind == "refund_issued"]
    subjects = [m.subject for m in mail.outbox]
    assert f"Your return for order {order.number} is approved" in subjects
    assert f"Your return for order {order.number} was refunded" in subjects
    refunded_mail = next(m for m in mail.outbox if "refunded" in m.subject)
    assert number in refunded_mail.body
    assert "20.00 EUR" in refunded_mail.body
    notes = list(OrderEvent.objects.filter(order=order).values_list("note", flat=True))
    for move in ("requested -> approved", "approved -> received", "received -> refunded"):
        assert any(f"Return {number}: {move}" in note for note in notes), (move, notes)
    listed = customer_client.get(returns_url(order)).json()
    assert listed[0]["refund"] | {"id": None} == {
        "id": None,
        "amount": "20.00",
        "tax_amount": "3.19",
        "currency": "EUR",
        "status": "succeeded",
    }
    assert (listed[0]["lines"][0]["refund_amount"], listed[0]["lines"][0]["refund_tax"]) == (
        "20.00",
        "3.19",
    )


def test_customers_get_403_on_staff_steps_and_nothing_changes(
    customer_client: APIClient, other_client: APIClient, requested: ReturnRequest
) -> None:
    before = db_snapshot()
    for client in (customer_client, other_client):
        for step in ("approve", "reject", "receive", "refund"):
            response = _step(client, requested.number, step, {})
            assert (response.status_code, response.json()["error"]) == (403, "permission_denied")
        assert client.get("/api/v1/returns/").status_code == 403
    assert APIClient().post(step_url(requested.number, "approve")).status_code == 401
    assert db_snapshot() == before


def test_approval_emails_once_and_a_second_approval_is_a_409(
    staff_client: APIClient, requested: ReturnRequest, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = _step(staff_client, requested.number, "approve")
    before = db_snapshot()
    second = _step(staff_client, requested.number, "approve")

    assert first.status_code == 200
    assert (second.status_code, second.json()["error"]) == (409, "invalid_state")
    assert second.json()["details"]["status"] == "approved"
    assert db_snapshot() == before
    assert [e for e in emails(requested.order) if e[0].startswith("return")] == [
        ("return_approved", requested.number)
    ]
    assert len([m for m in mail.outbox if "approved" in m.subject]) == 1


def test_rejection_needs_a_note_which_the_email_shows_and_frees_the_units(
    customer_client: APIClient,
    staff_client: APIClient,
    requested: ReturnRequest,
    django_capture_on_commit_callbacks: Any,
) -> None:
    before = db_snapshot()
    for body in ({}, {"staff_note": ""}, {"staff_note": 3}):
        refused = _step(staff_client, requested.number, "reject", body)
        assert (refused.status_code, refused.json()["error"]) == (400, "validation_error")
        assert "staff_note" in refused.json()["details"]
    assert db_snapshot() == before

    with django_capture_on_commit_callbacks(execute=True):
        rejected = _step(
            staff_client, requested.number, "reject", {"staff_note": "Worn after 3 weeks"}
        )

    assert rejected.status_code == 200, rejected.content
    assert (rejected.json()["status"], rejected.json()["staff_note"]) == (
        "rejected",
        "Worn after 3 weeks",
    )
    rejection = next(m for m in mail.outbox if "not accepted" in m.subject)
    assert requested.number in rejection.body
    assert "Worn after 3 weeks" in rejection.body
    tee_line = requested.order.lines.order_by("pk").first()
    assert tee_line is not None
    again = post(
        customer_client,
        returns_url(requested.order),
        {"lines": [{"line": tee_line.pk, "quantity": 3}], "reason": "other"},
    )
    assert again.status_code == 201, again.content


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            [{"line": 999999, "quantity": 1, "restock": False}],
            {"line": ["Line 999999 is not in this return."]},
        ),
        ([{"quantity": 3, "restock": False}], {"quantity": ["At most 2 were to come back."]}),
        ([{"quantity": 1, "restock": True}], {"warehouse": ["Name the warehouse to restock to."]}),
        (
            [{"quantity": 1, "restock": False, "warehouse": "b"}],
            {"warehouse": ["A warehouse is only named with restock: true."]},
        ),
        (
            [{"quantity": 1, "restock": True, "warehouse": "nowhere"}],
            {"warehouse": ["No active warehouse 'nowhere'."]},
        ),
    ],
)
def test_receiving_refuses_bad_lines_and_changes_nothing(
    staff: User,
    staff_client: APIClient,
    requested: ReturnRequest,
    warehouse_b: Warehouse,
    lines: list[dict[str, Any]],
    expected: dict[str, list[str]],
) -> None:
    return_approve(return_request=requested, actor=staff)
    body = {"lines": [{"line": _tee_line(requested).line_id, **item} for item in lines]}
    if "line" in lines[0]:
        body = {"lines": lines}
    before = db_snapshot()

    response = _step(staff_client, requested.number, "receive", body)

    assert response.status_code == 400, response.content
    assert response.json()["details"]["lines"] == {"0": expected}
    assert db_snapshot() == before


def test_receiving_nothing_or_before_approval_is_refused(
    staff: User, staff_client: APIClient, requested: ReturnRequest
) -> None:
    body = {"lines": [{"line": _tee_line(requested).line_id, "quantity": 0, "restock": False}]}
    before = db_snapshot()

    early = _step(staff_client, requested.number, "receive", body)
    assert (early.status_code, early.json()["error"]) == (409, "invalid_state")
    return_approve(return_request=requested, actor=staff)
    before = db_snapshot()
    empty = _step(staff_client, requested.number, "receive", body)

    assert (empty.status_code, empty.json()["error"]) == (400, "validation_error")
    assert "lines" in empty.json()["details"]
    assert db_snapshot() == before


def test_a_part_received_without_restock_refunds_only_what_arrived(
    staff: User,
    staff_client: APIClient,
    requested: ReturnRequest,
    tee: Variant,
    django_capture_on_commit_callbacks: Any,
) -> None:
    return_approve(return_request=requested, actor=staff)
    tee_line, mug_line = requested.lines.order_by("pk")
    stock_before = list(Stock.objects.order_by("pk").values_list("on_hand", flat=True))

    received = _step(
        staff_client,
        requested.number,
        "receive",
        {"lines": [{"line": tee_line.line_id, "quantity": 1, "restock": False}]},
    )
    assert received.status_code == 200, received.content
    assert list(Stock.objects.order_by("pk").values_list("on_hand", flat=True)) == stock_before
    with django_capture_on_commit_callbacks(execute=True):
        refunded = _step(staff_client, requested.number, "refund")

    assert refunded.status_code == 202
    assert Refund.objects.get().amount == Decimal("10.00")  # 1 tee; the mug never came
    mug_line.refresh_from_db()
    assert (mug_line.quantity_received, mug_line.refund_amount) == (0, Decimal("0.00"))
    again = _step(staff_client, requested.number, "refund")
    assert (again.status_code, again.json()["error"]) == (409, "invalid_state")


def test_a_line_returned_in_parts_refunds_exactly_its_total(
    customer: User, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    odd = variant_create(sku="ODD", price="3.33", stock=5)
    order = order_shipped(user=customer, lines=[(odd, 3)])
    # e.g. a voucher share rounded up; 19 % tax inside.
    order.lines.update(line_total=Decimal("10.00"), tax=Decimal("1.60"))
    Order.objects.filter(pk=order.pk).update(tax_total=Decimal("1.60"))
    line = order.lines.get()
    amounts = []
    for _ in range(3):
        made = return_made(order, [(line, 1)], actor=customer)
        return_received(made, actor=staff, line=line.pk, quantity=1)
        with django_capture_on_commit_callbacks(execute=True):
            _step(jwt_client(staff), made.number, "refund")
        refund = Refund.objects.get(returns=made)
        amounts.append((refund.amount, refund.tax_amount))

    assert amounts == [
        (Decimal("3.33"), Decimal("0.53")),
        (Decimal("3.33"), Decimal("0.53")),
        (Decimal("3.34"), Decimal("0.54")),
    ]
    assert set(ReturnRequest.objects.values_list("status", flat=True)) == {"refunded"}


def test_a_failed_refund_leaves_the_return_received_and_may_be_asked_again(
    staff: User,
    staff_client: APIClient,
    requested: ReturnRequest,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from apps.payments.providers.base import PaymentProviderError
    from apps.payments.providers.sandbox import SandboxProvider

    return_received(requested, actor=staff, line=_tee_line(requested).line_id, quantity=2)

    def refuse(self: Any, **kwargs: Any) -> Any:
        raise PaymentProviderError("card closed", reason="refund_refused")

    with monkeypatch.context() as patched:
        patched.setattr(SandboxProvider, "refund", refuse)
        with django_capture_on_commit_callbacks(execute=True):
            _step(staff_client, requested.number, "refund")
    requested.refresh_from_db()
    assert requested.status == "received"
    assert Refund.objects.get().status == "failed"
    assert not [kind for kind, _ in emails(requested.order) if "refund" in kind]

    with django_capture_on_commit_callbacks(execute=True):
        again = _step(staff_client, requested.number, "refund")

    assert again.status_code == 202, again.content
    requested.refresh_from_db()
    assert requested.status == "refunded"
    assert Refund.objects.filter(status="succeeded").get().amount == Decimal("20.00")


def test_the_refund_step_takes_an_idempotency_key(
    staff: User, staff_client: APIClient, requested: ReturnRequest
) -> None:
    return_received(requested, actor=staff, line=_tee_line(requested).line_id, quantity=1)
    first = _step(staff_client, requested.number, "refund", HTTP_IDEMPOTENCY_KEY="r-1")
    replay = _step(staff_client, requested.number, "refund", HTTP_IDEMPOTENCY_KEY="r-1")

    assert first.status_code == replay.status_code == 202
    assert replay["Idempotent-Replayed"] == "true"
    assert Refund.objects.count() == 1


def test_staff_list_returns_by_status_with_constant_queries(
    customer: User, staff: User, staff_client: APIClient
) -> None:
    counts = []
    for n in (1, 20):
        variants = [variant_create(sku=f"S{n}-{i}", stock=5) for i in range(n)]
        order = order_shipped(user=customer, lines=[(v, 1) for v in variants])
        made = return_made(order, [(line, 1) for line in order.lines.order_by("pk")])
        return_approve(return_request=made, actor=staff)
        reset_queries()
        with CaptureQueriesContext(connection) as listed:
            response = staff_client.get("/api/v1/returns/?status=approved")
        counts.append(len(listed))
        assert response.status_code == 200
        assert response.json()["results"][0]["number"] == made.number
    requested_only = staff_client.get("/api/v1/returns/?status=requested").json()
    bad = staff_client.get("/api/v1/returns/?status=lost")

    assert counts[0] == counts[1], counts
    assert requested_only["results"] == []
    assert (bad.status_code, bad.json()["error"]) == (400, "validation_error")
    one = staff_client.get(f"/api/v1/returns/{made.number}/")
    assert (one.status_code, one.json()["status"]) == (200, "approved")
    missing = staff_client.get("/api/v1/returns/NOPE-R1/")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")


def test_the_rejection_email_renders_the_return_and_the_staff_note(
    staff: User, requested: ReturnRequest
) -> None:
    from apps.notifications.models import EmailLog
    from apps.returns.services import return_reject

    return_reject(return_request=requested, actor=staff, staff_note="Outside our policy")
    log = EmailLog.objects.get(kind="return_rejected")
    rendered = email_render(log=log)

    assert rendered is not None
    subject, text, html = rendered
    assert subject == f"Your return for order {requested.order.number} was not accepted"
    assert requested.number in text
    assert "Outside our policy" in text
    assert "Outside our policy" in html
    assert Order.objects.get(pk=requested.order_id).status == "fulfilled"
