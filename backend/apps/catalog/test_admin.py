"""Admin: catalogue pages render; stock and its ledger cannot be edited there."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from apps.cart.models import Cart, CartItem
from apps.catalog.factories import ledger_sum, make_product, on_hand
from apps.catalog.models import Stock, StockMovement

pytestmark = pytest.mark.django_db


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


# --- cached catalogue pages follow admin saves and deletes (after the commit) --------------


def _form_data(client: Client, url: str, **changes: Any) -> dict[str, Any]:
    """What the admin's change form at ``url`` would post as it is, with ``changes``."""
    context = client.get(url).context
    data: dict[str, Any] = {}
    forms = [context["adminform"].form]
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        forms.extend(formset.forms)
        management = formset.management_form
        for name in management.fields:
            value = management[name].value()
            data[management.add_prefix(name)] = "" if value is None else value
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[form.add_prefix(name)] = "on" if value is True else value
    data.update(changes)
    return data


@pytest.fixture
def _catalog_cache_on():  # type: ignore[no-untyped-def]
    with override_settings(CATALOG_CACHE_SECONDS=60.0):
        yield


def _page(slug: str) -> dict[str, Any]:
    response = APIClient().get(f"/api/v1/products/{slug}/")
    return response.json() if response.status_code == 200 else {"status": response.status_code}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_catalog_cache_on")
def test_admin_saves_of_products_variants_and_categories_show_on_cached_pages(
    admin_client: Client,
) -> None:
    product = make_product(slug="tee", name="Tee", prices=("5.00",), stock=4)
    variant = product.variants.get()
    assert _page("tee")["name"] == "Tee"
    assert _page("tee")["name"] == "Tee"  # now served from the cache

    url = f"/admin/catalog/product/{product.pk}/change/"
    response = admin_client.post(url, _form_data(admin_client, url, name="Tee, renamed"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _page("tee")["name"] == "Tee, renamed"

    url = f"/admin/catalog/variant/{variant.pk}/change/"
    response = admin_client.post(url, _form_data(admin_client, url, price="7.50"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _page("tee")["variants"][0]["price"] == "7.50"

    url = f"/admin/catalog/category/{product.category_id}/change/"
    response = admin_client.post(url, _form_data(admin_client, url, name="Shirts, renamed"))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _page("tee")["category"]["name"] == "Shirts, renamed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_catalog_cache_on")
def test_admin_deletes_of_variants_and_products_show_on_cached_pages(
    admin_client: Client,
) -> None:
    product = make_product(slug="mug", prices=("5.00", "6.00"), stock=0)
    first, second = product.variants.order_by("id")
    # The admin may not delete stock rows (read-only there): these variants have none.
    Stock.objects.filter(variant__product=product).delete()
    assert len(_page("mug")["variants"]) == 2

    response = admin_client.post(f"/admin/catalog/variant/{second.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert [v["sku"] for v in _page("mug")["variants"]] == [first.sku]

    # The bulk action (delete_queryset); a product's variants protect it, so they go first.
    response = admin_client.post(
        "/admin/catalog/variant/",
        {"action": "delete_selected", "_selected_action": [first.pk], "post": "yes"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _page("mug")["variants"] == []

    response = admin_client.post(f"/admin/catalog/product/{product.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _page("mug") == {"status": 404}
