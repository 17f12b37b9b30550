"""The ops page lists the returns waiting on staff: requested, or received and not refunded."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.catalog.models import Variant
from apps.returns.factories import order_shipped, return_made, return_received
from apps.returns.services import return_approve, return_reject

pytestmark = pytest.mark.django_db


def test_the_ops_page_lists_returns_waiting_and_nothing_else(
    customer: User, staff: User, staff_session: Client, tee: Variant
) -> None:
    order = order_shipped(user=customer, lines=[(tee, 4)])
    line = order.lines.get()
    waiting = return_made(order, [(line, 1)], actor=customer)
    received = return_made(order, [(line, 2)], actor=customer)
    return_received(received, actor=staff, line=line.pk, quantity=1)
    rejected = return_made(order, [(line, 1)], actor=customer)
    return_reject(return_request=rejected, actor=staff, staff_note="No")
    approved = return_made(order, [(line, 1)], actor=customer)
    return_approve(return_request=approved, actor=staff)  # waiting on the customer, not ops

    html = staff_session.get("/ops/").content.decode()

    section = html.split('id="returns-waiting"')[1].split("</section>")[0]
    assert f'data-return-number="{waiting.number}"' in section
    assert f'data-return-number="{received.number}"' in section
    assert rejected.number not in section
    assert approved.number not in section
    row = section.split(f'data-return-number="{received.number}"')[1].split("</tr>")[0]
    assert "state-received" in row
    assert '<td class="n">2</td><td class="n">1</td>' in row  # 2 asked for, 1 arrived


def test_the_ops_page_says_when_no_return_is_waiting(staff_session: Client) -> None:
    html = staff_session.get("/ops/").content.decode()

    assert "No return is waiting." in html
