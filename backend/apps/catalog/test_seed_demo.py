"""seed_demo: deterministic, idempotent, scalable in bulk, and consistent with the ledger."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext, override_settings

from apps.accounts.models import User
from apps.catalog.demo import (
    DEMO_CUSTOMER_EMAIL,
    DEMO_CUSTOMER_PASSWORD,
    DEMO_STAFF_EMAIL,
    DEMO_STAFF_PASSWORD,
    product_spec,
)
from apps.catalog.models import Category, Product, Stock, StockMovement, Variant, Warehouse
from apps.catalog.stock import stock_ledger_total

pytestmark = pytest.mark.django_db


def _seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _counts() -> tuple[int, int, int, int, int]:
    return (
        Category.objects.count(),
        Product.objects.count(),
        Variant.objects.count(),
        Stock.objects.count(),
        StockMovement.objects.count(),
    )


def _assert_ledger_matches_on_hand() -> None:
    mismatched = (
        Stock.objects.annotate(ledger=stock_ledger_total())
        .exclude(on_hand=0, ledger__isnull=True)
        .exclude(on_hand=F("ledger"))
    )
    assert not mismatched.exists()
    assert not Stock.objects.filter(on_hand__lt=0).exists()


@override_settings(DEBUG=True)
def test_seed_twice_creates_everything_once() -> None:
    first = _seed("--products", "30")
    counts = _counts()
    north = sum(
        1 for i in range(1, 31) for v in product_spec(i).variants if v.north_stock > 0
    )  # every fourth product's first variant is also stocked in the north warehouse
    assert north == 7
    assert counts[:4] == (9, 30, counts[2], counts[2] + north)
    assert counts[2] >= 60  # several variants per product
    assert "30 products" in first
    second = _seed("--products", "30")
    assert _counts() == counts
    assert "0 products, 0 variants created; 0 units received" in second
    _assert_ledger_matches_on_hand()
    assert set(StockMovement.objects.values_list("reason", flat=True)) == {"receive"}


@override_settings(DEBUG=True)
def test_seed_is_deterministic_and_scales_up_without_touching_existing_rows() -> None:
    _seed("--products", "5")
    before = dict(Variant.objects.values_list("sku", "price"))
    stock_before = {
        (sku, code): on_hand
        for sku, code, on_hand in Stock.objects.values_list(
            "variant__sku", "warehouse__code", "on_hand"
        )
    }
    _seed("--products", "12")
    assert Product.objects.count() == 12
    after = dict(Variant.objects.values_list("sku", "price"))
    assert {sku: after[sku] for sku in before} == before
    assert {
        (sku, code): on_hand
        for sku, code, on_hand in Stock.objects.values_list(
            "variant__sku", "warehouse__code", "on_hand"
        )
        if (sku, code) in stock_before
    } == stock_before
    spec = product_spec(7)
    product = Product.objects.get(slug=spec.slug)
    assert product.name == spec.name
    assert product.category.slug == spec.category_slug
    assert product.category.parent is not None  # products sit in leaf categories
    assert [v.sku for v in product.variants.order_by("position")] == [v.sku for v in spec.variants]
    _assert_ledger_matches_on_hand()


@override_settings(DEBUG=True)
def test_demo_has_sold_out_and_stocked_variants_all_visible() -> None:
    _seed()
    north = Stock.objects.filter(warehouse__code="north", on_hand__gt=0)
    assert north.count() == 6  # products 4, 8, ... 24: their first variant
    assert (
        Warehouse.objects.get(code="north").priority
        > Warehouse.objects.get(code="default").priority
    )
    assert Stock.objects.filter(on_hand=0).exists()
    assert Stock.objects.filter(on_hand__gt=0).exists()
    assert not Product.objects.filter(is_active=False).exists()
    assert not Variant.objects.filter(stocks__isnull=True).exists()


def test_thousand_products_are_written_in_bulk() -> None:
    with CaptureQueriesContext(connection) as queries:
        _seed("--products", "1000", "--no-accounts")
    assert Product.objects.count() == 1000
    assert Variant.objects.count() >= 2000
    # Bulk writes: ~140 queries on SQLite (its 999-parameter limit sets the batch size),
    # where row-by-row writing would take well over 10,000.
    assert len(queries.captured_queries) < 250, len(queries.captured_queries)
    _assert_ledger_matches_on_hand()


@override_settings(DEBUG=True)
def test_demo_accounts_are_created_once_and_not_overwritten() -> None:
    output = _seed("--products", "1")
    assert f"{DEMO_STAFF_EMAIL} / {DEMO_STAFF_PASSWORD}" in output
    assert f"{DEMO_CUSTOMER_EMAIL} / {DEMO_CUSTOMER_PASSWORD}" in output
    staff = User.objects.get(email=DEMO_STAFF_EMAIL)
    customer = User.objects.get(email=DEMO_CUSTOMER_EMAIL)
    assert staff.is_staff
    assert staff.check_password(DEMO_STAFF_PASSWORD)
    assert not customer.is_staff
    assert customer.check_password(DEMO_CUSTOMER_PASSWORD)
    staff.set_password("changed-by-the-developer")
    staff.save()
    _seed("--products", "1")
    assert User.objects.filter(email=DEMO_STAFF_EMAIL).count() == 1
    assert User.objects.get(email=DEMO_STAFF_EMAIL).check_password("changed-by-the-developer")


@override_settings(DEBUG=False)
def test_without_debug_demo_accounts_need_force() -> None:
    output = _seed("--products", "1")
    assert "not created" in output
    assert not User.objects.exists()
    _seed("--products", "1", "--force")
    assert User.objects.filter(email=DEMO_STAFF_EMAIL, is_staff=True).exists()


def test_products_option_is_bounded() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        _seed("--products", "0")
    assert not Product.objects.exists()


@override_settings(DEBUG=True)
def test_the_demo_staff_account_manages_the_admin() -> None:
    """Staff status alone showed "You don't have permission to view or edit anything"."""
    from django.test import Client

    _seed("--products", "2")
    _seed("--products", "2")  # a second run keeps one group, with the same permissions
    staff = User.objects.get(email=DEMO_STAFF_EMAIL)
    assert list(staff.groups.values_list("name", flat=True)) == ["Shop staff"]
    assert not staff.is_superuser

    client = Client()
    login = client.post(
        "/admin/login/?next=/admin/",
        {"username": DEMO_STAFF_EMAIL, "password": DEMO_STAFF_PASSWORD},
    )
    assert login.status_code == 302
    assert login["Location"] == "/admin/"
    index = client.get("/admin/")
    page = index.content.decode()
    assert index.status_code == 200
    assert "permission to view or edit anything" not in page
    for model in (
        "/admin/catalog/product/",
        "/admin/orders/order/",
        "/admin/payments/payment/",
        "/admin/ops/stockdrift/",
        "/admin/notifications/emaillog/",
    ):
        assert f'href="{model}"' in page, model
        assert client.get(model).status_code == 200, model
    assert client.get("/admin/catalog/product/add/").status_code == 200
    product = Product.objects.first()
    assert product is not None
    assert client.get(f"/admin/catalog/product/{product.pk}/change/").status_code == 200

    # Users can be looked at, not changed: no way to make oneself a superuser.
    assert client.get(f"/admin/accounts/user/{staff.pk}/change/").status_code == 200
    client.post(
        f"/admin/accounts/user/{staff.pk}/change/",
        {"email": DEMO_STAFF_EMAIL, "is_staff": "on", "is_superuser": "on", "is_active": "on"},
    )
    staff.refresh_from_db()
    assert not staff.is_superuser
    assert client.get("/admin/auth/group/").status_code == 403


@override_settings(DEBUG=True)
def test_the_demo_customer_is_not_let_into_the_admin() -> None:
    from django.test import Client

    _seed("--products", "1")
    client = Client()
    client.post(
        "/admin/login/", {"username": DEMO_CUSTOMER_EMAIL, "password": DEMO_CUSTOMER_PASSWORD}
    )
    assert client.get("/admin/").status_code == 302  # back to the login page
