"""Cart endpoints: open a cart, read it, add/set/remove lines, claim a guest cart.

Guests need no account: the cart's UUID is their token. A cart that belongs to
a user is reachable only by that user; any other cart is a 404 on every verb
(the rule lives in ``selectors.cart_get``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.cart import selectors, services
from apps.cart.output import cart_output
from apps.cart.serializers import (
    CartClaimInputSerializer,
    CartCreateInputSerializer,
    CartItemAddInputSerializer,
    CartItemUpdateInputSerializer,
    CartOutputSerializer,
    CartPricingQuerySerializer,
    CartVoucherInputSerializer,
    ShippingMethodsQuerySerializer,
    ShippingOptionOutputSerializer,
)
from utils.actors import request_actor, request_user
from utils.schema import error_response
from utils.serializers import validated_input

# 400, 401, 404 and 429 are documented by utils.schema.ErrorAwareAutoSchema.
_CART_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The cart id (guest token)."
)
_ITEM_ID = OpenApiParameter("item_id", OpenApiTypes.INT, OpenApiParameter.PATH)
_SHIPPING_UNAVAILABLE = error_response(
    "shipping_unavailable: the method does not serve this country, weight or subtotal "
    "(details.shipping_method, country)."
)
_CHANGE_ERRORS = {
    409: error_response(
        "out_of_stock (details.variants lists variant_id, requested, available) or "
        "invalid_state (the cart is checked out or abandoned)."
    ),
}


class CartViewSet(viewsets.GenericViewSet):
    """Guest and signed-in carts."""

    # Every answer is ``cart_output(detail)``, built by hand (bench/profile.md, row "cart
    # and order answers built by hand"); ``CartOutputSerializer`` documents it.

    permission_classes = [permissions.AllowAny]
    serializer_class = CartOutputSerializer
    filter_backends: list[Any] = []
    pagination_class = None

    def get_permissions(self) -> list[permissions.BasePermission]:
        if self.action == "claim":
            return [permissions.IsAuthenticated()]
        return [permissions.AllowAny()]

    @extend_schema(
        request=CartCreateInputSerializer,
        responses={
            201: OpenApiResponse(CartOutputSerializer, description="A new cart."),
            200: OpenApiResponse(
                CartOutputSerializer, description="The signed-in user's existing open cart."
            ),
        },
    )
    def create(self, request: Request) -> Response:
        validated_input(CartCreateInputSerializer, request)
        cart, created = services.cart_open(user=request_actor(request))
        if created:  # a new cart has no lines: nothing to read back
            detail = selectors.cart_detail_build(cart=cart, items=[])
        else:
            detail = selectors.cart_detail_get(cart_id=cart.pk, user=request_actor(request))
        return Response(
            cart_output(detail),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        parameters=[_CART_ID, CartPricingQuerySerializer],
        responses={200: CartOutputSerializer, 409: _SHIPPING_UNAVAILABLE},
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        query = CartPricingQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        detail = selectors.cart_detail_get(
            cart_id=pk, user=request_actor(request), **query.validated_data
        )
        return Response(cart_output(detail))

    @extend_schema(
        parameters=[_CART_ID, ShippingMethodsQuerySerializer],
        responses={200: ShippingOptionOutputSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="shipping-methods")
    def shipping_methods(self, request: Request, pk: str | None = None) -> Response:
        """The methods that can ship this cart to the country, each priced for this cart."""
        query = ShippingMethodsQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        options = selectors.cart_shipping_options(
            cart_id=pk,
            user=request_actor(request),
            country=query.validated_data.get("country") or settings.DEFAULT_COUNTRY,
        )
        return Response(ShippingOptionOutputSerializer(options, many=True).data)

    @extend_schema(
        methods=["POST"],
        parameters=[_CART_ID],
        request=CartVoucherInputSerializer,
        responses={
            200: CartOutputSerializer,
            400: error_response(
                "voucher_invalid (no such active code), voucher_expired (outside its window; "
                "details.starts_at/ends_at), voucher_not_applicable (details.missing: "
                "min_subtotal with short_by, or eligible_products) or validation_error."
            ),
            409: error_response(
                "voucher_used_up (its usage limit, or this customer's one use) or "
                "invalid_state (the cart is not open)."
            ),
        },
    )
    @extend_schema(
        methods=["DELETE"],
        parameters=[_CART_ID],
        request=None,
        responses={200: CartOutputSerializer, 409: error_response("invalid_state")},
    )
    @action(detail=True, methods=["post", "delete"])
    def voucher(self, request: Request, pk: str | None = None) -> Response:
        if request.method == "DELETE":
            detail = services.cart_voucher_remove(cart_id=pk, user=request_actor(request))
            return Response(cart_output(detail))
        values = validated_input(CartVoucherInputSerializer, request)
        detail = services.cart_voucher_apply(
            cart_id=pk, user=request_actor(request), code=values["code"]
        )
        return Response(cart_output(detail))

    @extend_schema(
        parameters=[_CART_ID],
        request=CartItemAddInputSerializer,
        responses={200: CartOutputSerializer, **_CHANGE_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="items")
    def items(self, request: Request, pk: str | None = None) -> Response:
        values = validated_input(CartItemAddInputSerializer, request)
        detail = services.cart_item_add(cart_id=pk, user=request_actor(request), **values)
        return Response(cart_output(detail))

    @extend_schema(
        methods=["PATCH"],
        parameters=[_CART_ID, _ITEM_ID],
        request=CartItemUpdateInputSerializer,
        responses={200: CartOutputSerializer, **_CHANGE_ERRORS},
    )
    @extend_schema(
        methods=["DELETE"],
        parameters=[_CART_ID, _ITEM_ID],
        request=None,
        responses={200: CartOutputSerializer, **_CHANGE_ERRORS},
    )
    @action(detail=True, methods=["patch", "delete"], url_path=r"items/(?P<item_id>[0-9]+)")
    def item(self, request: Request, pk: str | None = None, item_id: str = "") -> Response:
        if request.method == "DELETE":
            detail = services.cart_item_remove(
                cart_id=pk, user=request_actor(request), item_id=int(item_id)
            )
            return Response(cart_output(detail))
        values = validated_input(CartItemUpdateInputSerializer, request)
        detail = services.cart_item_update(
            cart_id=pk, user=request_actor(request), item_id=int(item_id), **values
        )
        return Response(cart_output(detail))

    @extend_schema(
        parameters=[_CART_ID],
        request=CartClaimInputSerializer,
        responses={
            200: OpenApiResponse(
                CartOutputSerializer,
                description="The user's open cart, with the guest lines in it.",
            ),
            409: error_response("invalid_state: the guest cart is no longer open."),
        },
    )
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str | None = None) -> Response:
        validated_input(CartClaimInputSerializer, request)
        detail = services.cart_claim(cart_id=pk, user=request_user(request))
        return Response(cart_output(detail))
