"""The checkout's query count on PostgreSQL does not grow with the number of lines.

Measured through the whole request (JWT user lookup, Idempotency-Key claim and
completion, the placement), outside any test transaction, as in production.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.accounts.factories import jwt_headers
from apps.accounts.models import User
from apps.cart.factories import cart_create
from apps.catalog.factories import variant_create
from apps.catalog.models import Stock
from apps.orders.factories import CHECKOUT_BODY, checkout_url
from apps.orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

QUERY_BUDGET = 18  # issue 16: pricing reads promotions, tax rates and shipping methods
# The claim and the stored answer commit with the checkout: its atomic block becomes a
# savepoint (SAVEPOINT + RELEASE, no row read or written). See apps/orders/test_checkout.py.
QUERY_BUDGET_WITH_KEY = QUERY_BUDGET + 4


@pytest.mark.parametrize("line_count", [1, 50])
@pytest.mark.parametrize("with_key", [False, True])
def test_checkout_queries_stay_within_budget(
    django_assert_max_num_queries: Any, line_count: int, with_key: bool
) -> None:
    user = User.objects.create_user(email="buyer@example.com", password="x-long-password-1")
    variants = [variant_create(sku=f"Q-{n}", stock=3) for n in range(line_count)]
    cart = cart_create(user=user, lines=[(variant, 2) for variant in variants])
    client = Client(**jwt_headers(user))
    headers = {"HTTP_IDEMPOTENCY_KEY": "q-1"} if with_key else {}

    budget = QUERY_BUDGET_WITH_KEY if with_key else QUERY_BUDGET
    with django_assert_max_num_queries(budget), CaptureQueriesContext(connection) as ctx:
        response = client.post(
            checkout_url(cart), CHECKOUT_BODY, content_type="application/json", **headers
        )

    assert response.status_code == 201, response.content
    assert Order.objects.get().lines.count() == line_count
    assert Stock.objects.filter(on_hand=1).count() == line_count
    key = "with Idempotency-Key" if with_key else "without key"
    print(f"PostgreSQL checkout, {line_count} lines, {key}: {len(ctx.captured_queries)} queries")
