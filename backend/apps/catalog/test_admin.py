"""Admin: catalogue pages render; stock and its ledger cannot be edited there."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.cart.models import Cart, CartItem
from apps.catalog.factories import ledger_sum, make_product, on_hand
from apps.catalog.models import Stock, StockMovement

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(make_user: Callable[..., User]) -> Client:
    client = Client()
    client.force_login(make_user("root@example.com", is_staff=True, is_superuser=True))
    return client


def test_catalogue_and_cart_admin_pages_render(admin_client: Client) -> None:
    product = make_product(prices=("5.00", "6.00"), stock=4)
    variant = product.variants.first()
    assert variant is not None
    cart = Cart.objects.create()
    CartItem.objects.create(cart=cart, variant=variant, quantity=1)
    urls = [
        "/admin/catalog/category/",
        f"/admin/catalog/category/{product.category_id}/change/",
        "/admin/catalog/product/",
        f"/admin/catalog/product/{product.pk}/change/",
        "/admin/catalog/variant/",
        f"/admin/catalog/variant/{variant.pk}/change/",
        "/admin/catalog/stock/",
        f"/admin/catalog/stock/{variant.pk}/change/",
        "/admin/catalog/stockmovement/",
        "/admin/cart/cart/",
        f"/admin/cart/cart/{cart.pk}/change/",
    ]
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code == 200, url
    ledger_page = admin_client.get(f"/admin/catalog/stock/{variant.pk}/change/").content.decode()
    assert "+4" in ledger_page


def test_stock_and_ledger_are_read_only_in_the_admin(admin_client: Client) -> None:
    variant = make_product(stock=4).variants.get()
    movement = StockMovement.objects.get(variant=variant)
    assert admin_client.get("/admin/catalog/stock/add/").status_code == 403
    assert admin_client.get("/admin/catalog/stockmovement/add/").status_code == 403
    admin_client.post(f"/admin/catalog/stock/{variant.pk}/change/", {"on_hand": 999})
    admin_client.post(f"/admin/catalog/stockmovement/{movement.pk}/delete/", {"post": "yes"})
    assert on_hand(variant) == 4 == ledger_sum(variant)
    assert Stock.objects.count() == 1


def test_variant_added_in_the_admin_gets_a_stock_row(admin_client: Client) -> None:
    product = make_product(prices=())
    response = admin_client.post(
        "/admin/catalog/variant/add/",
        {
            "product": product.pk,
            "sku": "ADMIN-1",
            "name": "Admin made",
            "attributes": "{}",
            "price": "3.00",
            "currency": "EUR",
            "weight_grams": 250,
            "position": 0,
            "is_active": "on",
            "stocks-TOTAL_FORMS": 0,
            "stocks-INITIAL_FORMS": 0,
            "movements-TOTAL_FORMS": 0,
            "movements-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Stock.objects.get(variant__sku="ADMIN-1").on_hand == 0
