"""Vouchers under real concurrency on PostgreSQL: a usage limit of N lets exactly N of
20 simultaneous checkouts through; once per customer holds for one customer's
simultaneous checkouts; a cancelled unpaid order gives its use back.

Each checkout runs in its own thread and connection through the whole stack, as in
``test_checkout_concurrency`` (whose helpers these reuse).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.cart.factories import cart_create
from apps.catalog.factories import variant_create
from apps.orders.factories import CHECKOUT_BODY, checkout_url
from apps.orders.models import Order
from apps.pricing.factories import voucher_create
from apps.pricing.models import Voucher, VoucherUsage
from tests.test_checkout_concurrency import _codes, _post
from tests.threads import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def _carts_with(voucher: Voucher, count: int, *, stock: int = 100) -> list[str]:
    variant = variant_create(sku=f"V-{voucher.code}", price="20.00", stock=stock)
    carts = [cart_create(lines=[(variant, 1)]) for _ in range(count)]
    from apps.cart.models import Cart

    Cart.objects.filter(pk__in=[c.pk for c in carts]).update(voucher=voucher)
    return [checkout_url(cart) for cart in carts]


@pytest.mark.parametrize("limit", [1, 5])
def test_a_voucher_limited_to_n_uses_lets_exactly_n_of_twenty_checkouts_through(
    limit: int,
) -> None:
    voucher = voucher_create(f"LIMIT{limit}", usage_limit=limit)
    urls = _carts_with(voucher, 20)

    outcomes = run_together([_post(url, CHECKOUT_BODY) for url in urls])

    assert _codes(outcomes) == {"201": limit, "409 voucher_used_up": 20 - limit}
    voucher.refresh_from_db()
    assert voucher.used_count == limit
    assert VoucherUsage.objects.filter(voucher=voucher).count() == limit
    orders = Order.objects.filter(voucher_code=voucher.code)
    assert orders.count() == limit
    assert all(o.discount_total == Decimal("2.00") for o in orders)  # 10 % of 20.00


def test_once_per_customer_holds_under_one_customers_simultaneous_checkouts() -> None:
    voucher = voucher_create("ONCE", once_per_customer=True)
    urls = _carts_with(voucher, 8)  # the same guest e-mail on every cart

    outcomes = run_together([_post(url, CHECKOUT_BODY) for url in urls])

    assert _codes(outcomes) == {"201": 1, "409 voucher_used_up": 7}
    voucher.refresh_from_db()
    assert voucher.used_count == 1
    assert VoucherUsage.objects.get(voucher=voucher).customer_key == "email:guest@example.com"


def test_a_use_given_back_by_a_cancel_is_taken_by_exactly_one_of_the_waiting_buyers() -> None:
    voucher = voucher_create("LAST", usage_limit=1)
    first, *others = _carts_with(voucher, 6)
    status, placed, _ = _post(first, CHECKOUT_BODY)()
    assert status == 201
    cancel = _post(
        f"/api/v1/orders/{placed['id']}/cancel/", {}, HTTP_X_ORDER_TOKEN=placed["access_token"]
    )
    assert cancel()[0] == 200
    voucher.refresh_from_db()
    assert voucher.used_count == 0

    outcomes = run_together([_post(url, CHECKOUT_BODY) for url in others])

    assert _codes(outcomes) == {"201": 1, "409 voucher_used_up": 4}
    voucher.refresh_from_db()
    assert voucher.used_count == 1
