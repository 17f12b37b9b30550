"""Output serializers built once per class render exactly what DRF's own path renders.

Each endpoint below is called twice: once as served (prototypes) and once with
``PrebuiltOutputMixin`` switched off, so every serializer, nested ones included,
goes through DRF's per-instance fields. The bodies must be identical, and every
user of the mixin in the project must have been exercised.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.catalog.testing import make_product
from apps.orders.models import Order
from apps.orders.serializers import OrderOutputSerializer
from apps.orders.testing import CHECKOUT_BODY, cart_create, checkout_url, variant_create
from utils import serializers as project_serializers
from utils.serializers import PrebuiltOutputMixin

pytestmark = pytest.mark.django_db

_used: set[type] = set()


@pytest.fixture(autouse=True)
def _record_users(monkeypatch: pytest.MonkeyPatch) -> None:
    original = PrebuiltOutputMixin.to_representation

    def recording(self: Any, instance: Any) -> Any:
        _used.add(type(self))
        return original(self, instance)

    monkeypatch.setattr(PrebuiltOutputMixin, "to_representation", recording)


def _plain_drf(monkeypatch: pytest.MonkeyPatch) -> None:
    def drf_path(self: Any, instance: Any) -> Any:
        _used.add(type(self))
        return super(PrebuiltOutputMixin, self).to_representation(instance)

    monkeypatch.setattr(PrebuiltOutputMixin, "to_representation", drf_path)


def _both(monkeypatch: pytest.MonkeyPatch, render: Callable[[], Any]) -> tuple[Any, Any]:
    prebuilt = render()
    with monkeypatch.context() as patch:
        _plain_drf(patch)  # type: ignore[arg-type]
        plain = render()
    return prebuilt, plain


def _all_users() -> set[type]:
    found: set[type] = set()
    pending: list[type] = [PrebuiltOutputMixin]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                pending.append(sub)
    return found


def test_catalogue_pages_are_identical(
    api_client: APIClient, staff_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_product(slug="tee", stock=3)
    make_product(slug="mug", stock=0)
    for client, url in [
        (api_client, "/api/v1/products/"),
        (api_client, "/api/v1/products/tee/"),
        (staff_client, "/api/v1/products/"),
        (staff_client, "/api/v1/variants/"),
    ]:
        prebuilt, plain = _both(monkeypatch, lambda c=client, u=url: c.get(u).json())
        assert prebuilt == plain, url
        assert prebuilt  # not an empty page


def test_cart_and_order_bodies_are_identical(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = variant_create(sku="TEE-S", price="12.50", stock=5)
    cart = cart_create(lines=[(variant, 2)])
    prebuilt, plain = _both(monkeypatch, lambda: api_client.get(f"/api/v1/carts/{cart.pk}/").json())
    assert prebuilt == plain
    assert prebuilt["items"][0]["line_total"] == "25.00"

    response = api_client.post(checkout_url(cart), CHECKOUT_BODY, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["access_token"]  # the context-only field is filled on the real serializer
    order = Order.objects.prefetch_related("lines", "payments").get(pk=body["id"])
    token = str(uuid.uuid4())

    def render() -> Any:
        return dict(OrderOutputSerializer(order, context={"access_token": token}).data)

    prebuilt, plain = _both(monkeypatch, render)
    assert prebuilt == plain
    assert prebuilt["access_token"] == token
    assert prebuilt["payment"]["amount"] == body["payment"]["amount"]
    assert dict(OrderOutputSerializer(order).data)["access_token"] is None


def test_every_user_of_the_mixin_is_compared(
    api_client: APIClient, staff_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _used.clear()
    test_catalogue_pages_are_identical(api_client, staff_client, monkeypatch)
    test_cart_and_order_bodies_are_identical(api_client, monkeypatch)
    missing = {cls.__qualname__ for cls in _all_users() - _used}
    assert not missing, f"add a comparison for {sorted(missing)}"


def test_the_prototype_is_built_once_per_class(api_client: APIClient) -> None:
    make_product(slug="tee", stock=1)
    project_serializers._PROTOTYPES.clear()
    api_client.get("/api/v1/products/")
    first = dict(project_serializers._PROTOTYPES)
    api_client.get("/api/v1/products/?page=1")
    assert first
    assert all(project_serializers._PROTOTYPES[cls] is proto for cls, proto in first.items())
