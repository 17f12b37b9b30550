"""The cart answer built by ``output.cart_output`` is byte for byte what
``CartOutputSerializer`` (the OpenAPI description) renders, for every cart verb and a
range of carts: empty, promoted, with a voucher applied or refused, lines with warnings,
gross and net shop prices, estimated and chosen destination, shipping chosen or not, a
guest's and a signed-in owner's."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.cart import views
from apps.cart.output import cart_output
from apps.cart.selectors import CartDetail
from apps.cart.serializers import CartOutputSerializer
from apps.catalog.factories import make_product
from apps.catalog.models import Product, Stock, Variant
from apps.pricing.factories import promotion_create, tax_class_get, tax_rate_create, voucher_create
from apps.pricing.models import DiscountKind
from utils.testing import AnswerSpy, answer_spy_installed, render_json

pytestmark = pytest.mark.django_db

CARTS = "/api/v1/carts/"


class Compared(AnswerSpy):
    """Each answer the views built, rendered by the builder and by the serializer."""

    def __call__(self, detail: CartDetail) -> dict[str, Any]:
        built = cart_output(detail)
        return self.record(built, render_json(CartOutputSerializer(detail).data))


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> Iterator[Compared]:
    yield from answer_spy_installed(Compared(), monkeypatch, views, "cart_output")


def _variant(product: Product) -> Variant:
    variant = product.variants.get()
    assert isinstance(variant, Variant)
    return variant


def _catalogue() -> tuple[Variant, Variant, Variant]:
    """A promoted tee (standard rate), a mug at the reduced rate, a plain cap."""
    tax_rate_create("DE", "19.00")
    tax_rate_create("DE", "7.00", "reduced")
    tax_rate_create("FR", "20.00")
    tee = make_product("tee", name="Tée «ünïcode» ☕", prices=("19.99",), stock=20)
    mug = make_product("mug", prices=("7.35",), stock=3)
    Product.objects.filter(pk=mug.pk).update(tax_class=tax_class_get("reduced"))
    cap = make_product("cap", prices=("12.50",), stock=5)
    promotion_create("Tee week", product_ids=[tee.pk], value=Decimal("15"))
    promotion_create(
        "Mug off", kind=DiscountKind.FIXED, value=Decimal("1.10"), product_ids=[mug.pk]
    )
    voucher_create("WELCOME10", min_subtotal=Decimal("60.00"))
    return _variant(tee), _variant(mug), _variant(cap)


@pytest.mark.parametrize("prices_include_tax", [True, False], ids=["gross", "net"])
@pytest.mark.parametrize("who", ["guest", "owner"])
def test_every_cart_verb_answers_with_the_serializers_bytes(
    prices_include_tax: bool,
    who: str,
    compared: Compared,
    api_client: APIClient,
    customer_client: APIClient,
) -> None:
    client = customer_client if who == "owner" else api_client
    tee, mug, cap = _catalogue()
    with override_settings(PRICES_INCLUDE_TAX=prices_include_tax):
        empty = compared.check(client.post(CARTS, {}, format="json"), 201)
        assert (empty["items"], empty["voucher"], empty["summary"]["shipping_method"]) == (
            [],
            None,
            None,
        )
        cart = f"{CARTS}{empty['id']}/"
        compared.check(client.get(cart))
        if who == "owner":  # the owner's open cart again: 200, read back
            compared.check(client.post(CARTS, {}, format="json"), 200)
        for variant, quantity in ((tee, 2), (mug, 3), (cap, 1)):
            body = {"variant_id": variant.pk, "quantity": quantity}
            compared.check(client.post(f"{cart}items/", body, format="json"))
        lines = compared.check(client.get(cart))["items"]
        assert len(lines) == 3
        assert lines[0]["discount"] != "0.00"  # the promotion shows
        compared.check(client.get(f"{cart}?country=FR"))
        chosen = compared.check(client.get(f"{cart}?country=DE&shipping_method=standard"))
        assert chosen["summary"]["shipping_method"] == "standard"
        applied = compared.check(client.post(f"{cart}voucher/", {"code": "welcome10"}))
        assert applied["voucher"]["applied"] is True
        # Below the voucher's minimum: kept, refused with its reason and details.
        patched = client.patch(f"{cart}items/{lines[0]['id']}/", {"quantity": 1}, format="json")
        refused = compared.check(patched)["voucher"]
        assert refused["applied"] is False
        assert refused["problem"]["error"] == "voucher_not_applicable"
        # Lines that cannot be checked out as they stand.
        Stock.objects.filter(variant=cap).update(on_hand=0)
        Stock.objects.filter(variant=mug).update(on_hand=1)
        Variant.objects.filter(pk=tee.pk).update(is_active=False)
        warned = compared.check(client.get(cart))["items"]
        assert all(line["warnings"] for line in warned)
        compared.check(client.delete(f"{cart}items/{lines[2]['id']}/"))
        removed = compared.check(client.delete(f"{cart}voucher/"))
        assert (removed["voucher"], len(removed["items"])) == (None, 2)
    assert len(compared.answers) >= 13


def test_a_claimed_guest_cart_answers_with_the_serializers_bytes(
    compared: Compared, api_client: APIClient, customer_client: APIClient, customer: User
) -> None:
    tee, mug, _ = _catalogue()
    guest = compared.check(api_client.post(CARTS, {}, format="json"), 201)["id"]
    body = {"variant_id": tee.pk, "quantity": 1}
    compared.check(api_client.post(f"{CARTS}{guest}/items/", body, format="json"))
    own = compared.check(customer_client.post(CARTS, {}, format="json"), 201)["id"]
    body = {"variant_id": mug.pk, "quantity": 2}
    compared.check(customer_client.post(f"{CARTS}{own}/items/", body, format="json"))
    claimed = compared.check(customer_client.post(f"{CARTS}{guest}/claim/", {}, format="json"))
    assert (claimed["id"], len(claimed["items"])) == (own, 2)
