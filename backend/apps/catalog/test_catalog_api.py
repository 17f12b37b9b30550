"""Catalogue API: browsing, filters, ordering, pagination, visibility, staff management, budgets."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.catalog.factories import make_category, make_product, make_variant, on_hand
from apps.catalog.models import Category, Product, Stock, Variant

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products/"
CATEGORIES = "/api/v1/categories/"
VARIANTS = "/api/v1/variants/"


def _slugs(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [product["slug"] for product in response.json()["results"]]


# --- browsing ------------------------------------------------------------------------


def test_product_detail_carries_variants_with_price_strings_and_availability(
    api_client: APIClient,
) -> None:
    product = make_product("tee", prices=("19.99", "24.50"), stock=3)
    body = api_client.get(f"{PRODUCTS}tee/").json()
    assert body["slug"] == "tee"
    assert body["price"] == "19.99"
    assert body["currency"] == "EUR"
    assert body["in_stock"] is True
    assert body["category"]["slug"] == product.category.slug
    assert [
        (v["price"], v["currency"], v["available"], v["in_stock"]) for v in body["variants"]
    ] == [
        ("19.99", "EUR", 3, True),
        ("24.50", "EUR", 3, True),
    ]


def test_sold_out_variant_is_shown_as_not_in_stock(api_client: APIClient) -> None:
    product = make_product("mug", prices=("5.00",), stock=0)
    body = api_client.get(f"{PRODUCTS}mug/").json()
    assert body["in_stock"] is False
    assert body["variants"][0]["available"] == 0
    assert body["variants"][0]["in_stock"] is False
    assert product.variants.get().stocks.get().on_hand == 0


def test_inactive_products_and_variants_are_invisible_to_customers(
    api_client: APIClient, customer_client: APIClient
) -> None:
    visible = make_product("visible")
    hidden_variant = make_variant(product=visible, price="1.00", is_active=False)
    make_product("hidden", is_active=False)
    for client in (api_client, customer_client):
        assert _slugs(client.get(PRODUCTS)) == ["visible"]
        assert client.get(f"{PRODUCTS}hidden/").status_code == 404
        assert client.get(f"{PRODUCTS}hidden/").json()["error"] == "not_found"
        body = client.get(f"{PRODUCTS}visible/").json()
        assert hidden_variant.pk not in [v["id"] for v in body["variants"]]
        assert body["price"] == "10.00"  # the inactive 1.00 variant does not set the price
        # Its SKU does not find the product either.
        assert _slugs(client.get(PRODUCTS, {"search": hidden_variant.sku})) == []


def test_staff_see_inactive_products_and_variants(staff_client: APIClient) -> None:
    visible = make_product("visible")
    make_variant(product=visible, price="1.00", is_active=False)
    make_product("hidden", is_active=False)
    assert sorted(_slugs(staff_client.get(PRODUCTS))) == ["hidden", "visible"]
    body = staff_client.get(f"{PRODUCTS}visible/").json()
    assert [v["is_active"] for v in body["variants"]] == [True, False]
    assert staff_client.get(f"{PRODUCTS}hidden/").json()["is_active"] is False


def test_categories_list_active_ones_with_parent_slugs(api_client: APIClient) -> None:
    root = make_category("apparel")
    make_category("shirts", parent=root)
    make_category("retired", is_active=False)
    body = api_client.get(CATEGORIES).json()
    assert [(c["slug"], c["parent"]) for c in body["results"]] == [
        ("apparel", None),
        ("shirts", "apparel"),
    ]
    assert api_client.get(f"{CATEGORIES}shirts/").json()["parent"] == "apparel"
    assert api_client.get(f"{CATEGORIES}retired/").status_code == 404


# --- filters -------------------------------------------------------------------------


def test_search_matches_name_description_and_sku(api_client: APIClient) -> None:
    make_product("a", name="Blue Mug")
    make_product("b", description="A mug that is very blue")
    sku_match = make_product("c", name="Plain")
    Variant.objects.filter(product=sku_match).update(sku="BLUE-1")
    make_product("d", name="Red Cap")
    assert sorted(_slugs(api_client.get(PRODUCTS, {"search": "blue"}))) == ["a", "b", "c"]
    assert _slugs(api_client.get(PRODUCTS, {"search": "cap"})) == ["d"]


def test_category_filter_includes_descendants(api_client: APIClient) -> None:
    apparel = make_category("apparel")
    shirts = make_category("shirts", parent=apparel)
    long_sleeve = make_category("long-sleeve", parent=shirts)
    home = make_category("home")
    make_product("in-root", category=apparel)
    make_product("in-child", category=shirts)
    make_product("in-grandchild", category=long_sleeve)
    make_product("elsewhere", category=home)
    assert sorted(_slugs(api_client.get(PRODUCTS, {"category": "apparel"}))) == [
        "in-child",
        "in-grandchild",
        "in-root",
    ]
    assert sorted(_slugs(api_client.get(PRODUCTS, {"category": "shirts"}))) == [
        "in-child",
        "in-grandchild",
    ]
    assert _slugs(api_client.get(PRODUCTS, {"category": "nope"})) == []


def test_inactive_category_filter_matches_nothing_for_customers(
    api_client: APIClient, staff_client: APIClient
) -> None:
    retired = make_category("retired", is_active=False)
    make_product("old", category=retired)
    assert _slugs(api_client.get(PRODUCTS, {"category": "retired"})) == []
    assert _slugs(staff_client.get(PRODUCTS, {"category": "retired"})) == ["old"]


def test_price_filters_use_the_lowest_active_variant_price(api_client: APIClient) -> None:
    make_product("cheap", prices=("5.00", "50.00"))
    make_product("middle", prices=("20.00",))
    make_product("dear", prices=("99.99",))
    assert sorted(_slugs(api_client.get(PRODUCTS, {"min_price": "20.00"}))) == ["dear", "middle"]
    assert sorted(_slugs(api_client.get(PRODUCTS, {"max_price": "20"}))) == ["cheap", "middle"]
    assert _slugs(api_client.get(PRODUCTS, {"min_price": "10", "max_price": "99.98"})) == ["middle"]


@pytest.mark.parametrize("bad", ["1.234", "abc", "1e3", "-5", "NaN", "Infinity", "12,50"])
def test_bad_money_in_price_filter_is_a_validation_error(api_client: APIClient, bad: str) -> None:
    make_product()
    response = api_client.get(PRODUCTS, {"min_price": bad})
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "min_price" in response.json()["details"]


def test_in_stock_filter(api_client: APIClient) -> None:
    make_product("stocked", stock=2)
    make_product("sold-out", stock=0)
    partly = make_product("partly", stock=0)
    make_variant(product=partly, stock=1)
    assert sorted(_slugs(api_client.get(PRODUCTS, {"in_stock": "true"}))) == ["partly", "stocked"]
    assert _slugs(api_client.get(PRODUCTS, {"in_stock": "false"})) == ["sold-out"]
    refused = api_client.get(PRODUCTS, {"in_stock": "maybe"})
    assert refused.status_code == 400
    assert "in_stock" in refused.json()["details"]


def test_inactive_variant_stock_does_not_make_a_product_in_stock(api_client: APIClient) -> None:
    product = make_product("p", stock=0)
    make_variant(product=product, stock=5, is_active=False)
    assert _slugs(api_client.get(PRODUCTS, {"in_stock": "true"})) == []


# --- ordering and pagination ---------------------------------------------------------


def test_ordering_by_price_name_and_newest(api_client: APIClient) -> None:
    make_product("b-mid", name="Banana", prices=("20.00", "1000.00"))
    make_product("c-low", name="Cherry", prices=("5.00",))
    make_product("a-high", name="Apple", prices=("30.00",))
    assert _slugs(api_client.get(PRODUCTS, {"ordering": "price"})) == ["c-low", "b-mid", "a-high"]
    assert _slugs(api_client.get(PRODUCTS, {"ordering": "-price"})) == ["a-high", "b-mid", "c-low"]
    assert _slugs(api_client.get(PRODUCTS, {"ordering": "name"})) == ["a-high", "b-mid", "c-low"]
    newest = ["a-high", "c-low", "b-mid"]
    assert _slugs(api_client.get(PRODUCTS, {"ordering": "-created_at"})) == newest
    assert _slugs(api_client.get(PRODUCTS)) == newest


def test_unknown_ordering_is_refused(api_client: APIClient) -> None:
    response = api_client.get(PRODUCTS, {"ordering": "stock"})
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "ordering" in response.json()["details"]


def test_pagination_defaults_to_20_and_allows_up_to_100(api_client: APIClient) -> None:
    category = make_category()
    for n in range(25):
        make_product(f"p{n:02d}", category=category, stock=0)
    first = api_client.get(PRODUCTS).json()
    assert first["count"] == 25
    assert len(first["results"]) == 20
    assert first["next"] is not None
    second = api_client.get(PRODUCTS, {"page": 2}).json()
    assert len(second["results"]) == 5
    assert len(api_client.get(PRODUCTS, {"page_size": 100}).json()["results"]) == 25
    seen = _slugs(api_client.get(PRODUCTS, {"page_size": 7, "page": 4}))
    assert len(seen) == 4


@pytest.mark.parametrize("size", ["0", "101", "-1", "abc", "1e2"])
def test_page_size_out_of_bounds_is_refused(api_client: APIClient, size: str) -> None:
    response = api_client.get(PRODUCTS, {"page_size": size})
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "page_size" in response.json()["details"]


def test_page_past_the_end_is_404(api_client: APIClient) -> None:
    make_product()
    response = api_client.get(PRODUCTS, {"page": 9})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


# --- staff management ----------------------------------------------------------------


def test_anonymous_and_customers_cannot_write(
    api_client: APIClient, customer_client: APIClient
) -> None:
    category = make_category("c")
    make_product("p", category=category)
    attempts = [
        ("post", CATEGORIES, {"name": "New"}),
        ("patch", f"{CATEGORIES}c/", {"name": "Renamed"}),
        ("delete", f"{CATEGORIES}c/", None),
        ("post", PRODUCTS, {"category": "c", "name": "New"}),
        ("patch", f"{PRODUCTS}p/", {"name": "Renamed"}),
        ("delete", f"{PRODUCTS}p/", None),
    ]
    for client, status, code in (
        (api_client, 401, "not_authenticated"),
        (customer_client, 403, "permission_denied"),
    ):
        for method, url, body in attempts:
            response = getattr(client, method)(url, body, format="json")
            assert response.status_code == status, (method, url)
            assert response.json()["error"] == code
    assert Category.objects.get().name == "C"
    assert Product.objects.get().name.startswith("Product")
    assert Product.objects.get().is_active


def test_variants_endpoints_are_staff_only(
    api_client: APIClient, customer_client: APIClient
) -> None:
    variant = make_product().variants.get()
    assert api_client.get(VARIANTS).status_code == 401
    assert customer_client.get(VARIANTS).status_code == 403
    assert customer_client.get(f"{VARIANTS}{variant.pk}/movements/").status_code == 403
    response = customer_client.post(
        f"{VARIANTS}{variant.pk}/adjust-stock/", {"quantity": 5, "reason": "receive"}, format="json"
    )
    assert response.status_code == 403
    assert on_hand(variant) == 10


def test_staff_manage_categories(staff_client: APIClient, api_client: APIClient) -> None:
    created = staff_client.post(CATEGORIES, {"name": "Outdoor Gear"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["slug"] == "outdoor-gear"
    child = staff_client.post(
        CATEGORIES, {"name": "Tents", "slug": "tents", "parent": "outdoor-gear"}, format="json"
    )
    assert child.json()["parent"] == "outdoor-gear"
    renamed = staff_client.patch(f"{CATEGORIES}tents/", {"name": "Tents & tarps"}, format="json")
    assert renamed.json()["name"] == "Tents & tarps"
    assert staff_client.delete(f"{CATEGORIES}tents/").status_code == 204
    assert Category.objects.get(slug="tents").is_active is False
    assert api_client.get(f"{CATEGORIES}tents/").status_code == 404
    reactivated = staff_client.patch(f"{CATEGORIES}tents/", {"is_active": True}, format="json")
    assert reactivated.json()["is_active"] is True


def test_category_cannot_be_moved_under_itself_or_a_descendant(staff_client: APIClient) -> None:
    root = make_category("root")
    child = make_category("child", parent=root)
    make_category("grandchild", parent=child)
    for parent in ("root", "grandchild"):
        response = staff_client.patch(f"{CATEGORIES}root/", {"parent": parent}, format="json")
        assert response.status_code == 400
        assert "parent" in response.json()["details"]
    assert Category.objects.get(slug="root").parent is None


def test_duplicate_slugs_and_skus_are_validation_errors(staff_client: APIClient) -> None:
    product = make_product("taken")
    variant = product.variants.get()
    category_slug = product.category.slug
    cases = [
        (CATEGORIES, {"name": "X", "slug": category_slug}, "slug"),
        (PRODUCTS, {"category": category_slug, "name": "X", "slug": "taken"}, "slug"),
        (VARIANTS, {"product": "taken", "sku": variant.sku, "name": "X", "price": "1.00"}, "sku"),
    ]
    for url, body, field in cases:
        response = staff_client.post(url, body, format="json")
        assert response.status_code == 400, (url, response.content)
        assert response.json()["error"] == "validation_error"
        assert field in response.json()["details"]
    assert (Category.objects.count(), Product.objects.count(), Variant.objects.count()) == (1, 1, 1)


def test_staff_manage_products(staff_client: APIClient, api_client: APIClient) -> None:
    make_category("mugs")
    created = staff_client.post(
        PRODUCTS,
        {"category": "mugs", "name": "Big Mug", "description": "Holds a lot."},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["slug"] == "big-mug"
    assert created.json()["variants"] == []
    assert created.json()["price"] is None
    patched = staff_client.patch(f"{PRODUCTS}big-mug/", {"name": "Huge Mug"}, format="json")
    assert patched.json()["name"] == "Huge Mug"
    assert staff_client.delete(f"{PRODUCTS}big-mug/").status_code == 204
    assert Product.objects.get(slug="big-mug").is_active is False
    assert api_client.get(f"{PRODUCTS}big-mug/").status_code == 404


def test_product_with_unknown_category_or_unknown_field_is_refused(staff_client: APIClient) -> None:
    make_category("mugs")
    unknown_category = staff_client.post(PRODUCTS, {"category": "nope", "name": "X"}, format="json")
    assert unknown_category.status_code == 400
    assert "category" in unknown_category.json()["details"]
    extra = staff_client.post(
        PRODUCTS, {"category": "mugs", "name": "X", "price": "1.00"}, format="json"
    )
    assert extra.status_code == 400
    assert extra.json()["details"]["price"] == ["Unknown or read-only field."]
    assert not Product.objects.exists()


def test_creating_a_variant_creates_its_stock_row_at_zero(staff_client: APIClient) -> None:
    make_product("tee", stock=0, prices=())
    response = staff_client.post(
        VARIANTS,
        {
            "product": "tee",
            "sku": "TEE-S",
            "name": "S",
            "price": "19.90",
            "attributes": {"size": "S"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["price"], body["currency"], body["available"], body["in_stock"]) == (
        "19.90",
        "EUR",
        0,
        False,
    )
    assert Stock.objects.get(variant_id=body["id"]).on_hand == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", 19.9),
        ("price", "19.999"),
        ("price", "-1.00"),
        ("price", "1e2"),
        ("currency", "eur"),
        ("currency", "EURO"),
        ("attributes", ["size"]),
        ("position", True),
        ("stock", 5),
    ],
)
def test_variant_create_refuses_bad_input(
    staff_client: APIClient, field: str, value: object
) -> None:
    make_product("tee", prices=())
    body = {"product": "tee", "sku": "TEE-S", "name": "S", "price": "19.90", field: value}
    response = staff_client.post(VARIANTS, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["details"]
    assert not Variant.objects.exists()
    assert not Stock.objects.exists()


def test_variant_update_and_deactivate(staff_client: APIClient, api_client: APIClient) -> None:
    product = make_product("tee", prices=("10.00", "12.00"))
    cheap, dear = product.variants.order_by("position")
    response = staff_client.patch(f"{VARIANTS}{cheap.pk}/", {"price": "15.00"}, format="json")
    assert response.json()["price"] == "15.00"
    assert api_client.get(f"{PRODUCTS}tee/").json()["price"] == "12.00"
    moved = staff_client.patch(f"{VARIANTS}{cheap.pk}/", {"product": "other"}, format="json")
    assert moved.status_code == 400
    assert staff_client.delete(f"{VARIANTS}{dear.pk}/").status_code == 204
    dear.refresh_from_db()
    assert dear.is_active is False
    public = api_client.get(f"{PRODUCTS}tee/").json()
    assert [v["id"] for v in public["variants"]] == [cheap.pk]
    assert public["price"] == "15.00"
    assert Decimal(Variant.objects.get(pk=cheap.pk).price) == Decimal("15.00")


def test_variant_list_filters_by_product(staff_client: APIClient) -> None:
    first = make_product("first", prices=("1.00", "2.00"))
    make_product("second")
    body = staff_client.get(VARIANTS, {"product": "first"}).json()
    assert sorted(v["id"] for v in body["results"]) == sorted(
        first.variants.values_list("id", flat=True)
    )
    assert {v["product"] for v in body["results"]} == {"first"}


def test_unknown_variant_id_is_404_even_when_huge(staff_client: APIClient) -> None:
    for variant_id in ("999", str(2**70)):
        response = staff_client.get(f"{VARIANTS}{variant_id}/")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


# --- query budgets -------------------------------------------------------------------


def _catalogue(products: int, variants: int = 4) -> None:
    category = make_category("budget")
    prices = tuple(f"{10 + n}.00" for n in range(variants))
    for n in range(products):
        make_product(f"budget-{n:03d}", category=category, prices=prices, stock=n % 3)


@pytest.mark.parametrize("products", [20, 100])
def test_product_list_costs_at_most_5_queries_whatever_the_page_size(
    customer_client: APIClient, django_assert_max_num_queries, products: int
) -> None:
    _catalogue(products)
    # user, count, products, variants, promotions (prices: selectors.product_prices_apply)
    with django_assert_max_num_queries(5):
        response = customer_client.get(
            PRODUCTS,
            {"page_size": products, "ordering": "price", "category": "budget", "search": "product"},
        )
    assert response.status_code == 200
    assert len(response.json()["results"]) == products
    assert all(len(p["variants"]) == 4 for p in response.json()["results"])
    with django_assert_max_num_queries(5):
        staff_like = customer_client.get(PRODUCTS, {"page_size": products, "in_stock": "true"})
    assert staff_like.status_code == 200


def test_product_detail_costs_at_most_4_queries(
    customer_client: APIClient, django_assert_max_num_queries
) -> None:
    _catalogue(1, variants=10)
    with django_assert_max_num_queries(4):
        response = customer_client.get(f"{PRODUCTS}budget-000/")
    assert len(response.json()["variants"]) == 10


@pytest.mark.parametrize("flag", ["true", 1, "no", None])
def test_is_active_takes_a_json_boolean_only_and_a_refusal_changes_nothing(
    staff_client: APIClient, flag: object
) -> None:
    category = make_category(slug="tees")
    product = make_product(category=category, slug="tee")
    variant = make_variant(product=product, sku="TEE-S")
    for path, body in [
        ("/api/v1/categories/", {"name": "Hats", "is_active": flag}),
        (PRODUCTS, {"category": "tees", "name": "Cap", "is_active": flag}),
        (f"/api/v1/variants/{variant.pk}/", {"is_active": flag}),
    ]:
        send = staff_client.patch if "variants/" in path else staff_client.post
        response = send(path, body, format="json")
        assert response.status_code == 400, (path, response.content)
        assert "is_active" in response.json()["details"]
    assert Category.objects.count() == 1
    assert Product.objects.count() == 1
    assert Variant.objects.get(pk=variant.pk).is_active is True
