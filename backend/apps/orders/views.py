"""Checkout (``POST /carts/{id}/checkout/``) and orders (``/orders/...``): thin views.

Each view validates its input, calls one selector (access) and at most one
service, and serializes. Errors are raised, never caught: ``utils.errors`` maps
them. Another caller's cart or order is a 404 on every verb.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from apps.cart.models import Cart
from apps.orders import fulfilments, selectors, services
from apps.orders.filters import OrderFilter
from apps.orders.models import Order
from apps.orders.output import order_output
from apps.orders.serializers import (
    CheckoutInputSerializer,
    FulfilmentCreateInputSerializer,
    FulfilmentOutputSerializer,
    OrderCancelInputSerializer,
    OrderEventOutputSerializer,
    OrderFulfilInputSerializer,
    OrderOutputSerializer,
)
from utils.actors import request_actor
from utils.filters import StrictOrderingFilter
from utils.headers import IDEMPOTENCY_KEY_PARAMETER, ORDER_TOKEN_PARAMETER, order_token
from utils.idempotency import idempotent
from utils.permissions import StaffOnObject
from utils.schema import error_response
from utils.serializers import validated_input
from utils.throttling import ScopedRateThrottle

if TYPE_CHECKING:
    from rest_framework.decorators import ViewSetAction  # the stubs' type of an @action

# 400, 401, 403, 404 and 429 are documented by utils.schema.ErrorAwareAutoSchema.
_CHECKOUT_CONFLICT = error_response(
    "invalid_state, out_of_stock (details.variants), cart_empty, idempotency_in_progress, "
    "shipping_unavailable (the method does not serve the address's country, or the "
    "cart's weight or subtotal; details.shipping_method, country) or voucher_used_up "
    "(the cart's voucher reached its usage limit, or this customer used it already)"
)
_CHECKOUT_INVALID = error_response(
    "validation_error, or the cart's voucher no longer applies: voucher_invalid, "
    "voucher_expired or voucher_not_applicable (details.missing)"
)
_ORDER_CONFLICT = error_response("invalid_state: not allowed from the order's status")
_FULFILMENT_CONFLICT = error_response(
    "invalid_state (the order is not paid, partially fulfilled or partially refunded), "
    "insufficient_stock (units must move to a warehouse that lacks them; details.variants) "
    "or idempotency_in_progress"
)
_FULFILMENT_STATE = error_response(
    "invalid_state: the fulfilment is not pending (or its units are in a return)"
)
_FULFILMENT_CANCEL_CONFLICT = error_response(
    "invalid_state: the fulfilment is not pending (or its units are in a return); "
    "insufficient_stock: a warehouse the parcel moved units from no longer has them "
    "(details.fulfilment, details.variants)"
)
_IDEMPOTENCY_CONFLICT = error_response(
    "idempotency_conflict: the key was used with a different request"
)

_View = TypeVar("_View", bound=Callable[..., Response])
_PARCEL_NUMBER = r"(?P<number>[A-Za-z0-9-]{1,32})"


def _parcel_action(
    verb: str, summary: str, conflict: Any
) -> Callable[[_View], ViewSetAction[_View]]:
    """Route and document ``POST /orders/{id}/fulfilments/{number}/<verb>/``: a staff step
    on one parcel, answered with the parcel (200) or ``conflict`` (409)."""

    def decorate(view: _View) -> ViewSetAction[_View]:
        routed = action(
            detail=True,
            methods=["post"],
            url_path=f"fulfilments/{_PARCEL_NUMBER}/{verb}",
            url_name=f"fulfilment-{verb}",
        )(view)
        return extend_schema(
            summary=summary,
            request=None,
            responses={200: FulfilmentOutputSerializer, 409: conflict},
        )(routed)

    return decorate


class CartCheckoutViewSet(viewsets.GenericViewSet):
    """Check out a cart: its lines become an order, paid through the chosen provider."""

    # Only the checkout route of a cart; the cart itself lives in apps.cart.

    permission_classes = [permissions.AllowAny]  # guests check out; cart_get decides access
    throttle_scope = "checkout"
    filter_backends: list[Any] = []
    serializer_class = CheckoutInputSerializer

    def get_queryset(self) -> QuerySet[Cart]:
        return Cart.objects.none()  # never listed; names the {id} type in the schema

    def get_throttles(self) -> list[BaseThrottle]:
        return [*super().get_throttles(), ScopedRateThrottle()]

    @extend_schema(
        summary="Check out a cart",
        request=CheckoutInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: OrderOutputSerializer,
            400: _CHECKOUT_INVALID,
            409: _CHECKOUT_CONFLICT,
            422: _IDEMPOTENCY_CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    @idempotent(anonymous_scope="cart")
    def checkout(self, request: Request, pk: str | None = None) -> Response:
        values = validated_input(CheckoutInputSerializer, request)
        result = services.order_checkout(
            cart_id=str(pk),
            user=request_actor(request),
            email=values.get("email"),
            shipping_address=dict(values["shipping_address"]),
            billing_address=dict(values["billing_address"]) if values["billing_address"] else None,
            shipping_method=values["shipping_method"],
            payment_provider=values["payment"]["provider"],
            payment_token=values["payment"]["token"],
            payment_return_url=values["payment"]["return_url"],
        )
        # Built by hand (bench/profile.md, row "cart and order answers built by hand");
        # OrderOutputSerializer documents it.
        output = order_output(
            result.order,
            lines=result.lines,  # just written: the answer reads no row back
            payment=result.payment,
            access_token=result.access_token,
        )
        return Response(output, status=status.HTTP_201_CREATED)


class OrderViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Orders: the customer's own (or a guest's, by token); staff see and fulfil all."""

    serializer_class = OrderOutputSerializer
    filter_backends = [DjangoFilterBackend, StrictOrderingFilter]
    filterset_class = OrderFilter
    ordering_fields = ["created_at", "total"]
    ordering = ["-created_at"]

    def get_permissions(self) -> list[permissions.BasePermission]:
        if self.action in ("retrieve", "events", "cancel"):
            return [permissions.AllowAny()]  # a guest presents X-Order-Token
        if self.action in ("fulfil", "fulfilments", "fulfilment_ship", "fulfilment_cancel"):
            return [StaffOnObject()]
        return [permissions.IsAuthenticated()]

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        return selectors.order_list_for_user(user=request_actor(self.request))

    @extend_schema(
        parameters=[ORDER_TOKEN_PARAMETER],
        responses={200: OrderOutputSerializer},
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        order = selectors.order_get_detail(
            order_id=pk, user=request_actor(request), order_token=order_token(request)
        )
        return Response(order_output(order))

    @extend_schema(
        parameters=[ORDER_TOKEN_PARAMETER],
        responses={200: OrderEventOutputSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def events(self, request: Request, pk: str | None = None) -> Response:
        order = selectors.order_get_accessible(
            order_id=pk, user=request_actor(request), order_token=order_token(request)
        )
        events = selectors.order_event_list(order=order)
        return Response(OrderEventOutputSerializer(events, many=True).data)

    @extend_schema(
        request=OrderCancelInputSerializer,
        parameters=[ORDER_TOKEN_PARAMETER],
        responses={200: OrderOutputSerializer, 409: _ORDER_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        values = validated_input(OrderCancelInputSerializer, request)
        order = selectors.order_get_accessible(
            order_id=pk, user=request_actor(request), order_token=order_token(request)
        )
        order = services.order_cancel(
            order=order, actor=request_actor(request), reason=values["reason"]
        )
        return Response(_order_answer(order))

    @extend_schema(
        request=OrderFulfilInputSerializer,
        responses={200: OrderOutputSerializer, 409: _ORDER_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def fulfil(self, request: Request, pk: str | None = None) -> Response:
        values = validated_input(OrderFulfilInputSerializer, request)
        # Access first: another customer's order is a 404 here too, not a 403.
        order = selectors.order_get_accessible(order_id=pk, user=request_actor(request))
        self.check_object_permissions(request, order)  # staff only (StaffOnObject)
        order = services.order_fulfil(order=order, actor=request_actor(request), **values)
        return Response(_order_answer(order))

    @extend_schema(
        summary="Pack (and optionally ship) a parcel of an order (staff)",
        request=FulfilmentCreateInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: FulfilmentOutputSerializer,
            409: _FULFILMENT_CONFLICT,
            422: _IDEMPOTENCY_CONFLICT,
        },
    )
    @action(detail=True, methods=["post"], url_path="fulfilments", url_name="fulfilments")
    @idempotent()
    def fulfilments(self, request: Request, pk: str | None = None) -> Response:
        order = self._staff_order(request, pk)
        values = validated_input(FulfilmentCreateInputSerializer, request)
        fulfilment = fulfilments.fulfilment_create(
            order=order,
            lines=[dict(item) for item in values["lines"]],
            warehouse=values["warehouse"],
            carrier=values["carrier"],
            tracking_number=values["tracking_number"],
            tracking_url=values["tracking_url"],
            ship=values["ship"],
            actor=request_actor(request),
        )
        fulfilment = selectors.fulfilment_get(order=order, number=fulfilment.number)
        return Response(FulfilmentOutputSerializer(fulfilment).data, status=status.HTTP_201_CREATED)

    @_parcel_action("ship", "Hand a pending parcel to the carrier (staff)", _FULFILMENT_STATE)
    def fulfilment_ship(
        self, request: Request, pk: str | None = None, number: str = ""
    ) -> Response:
        return self._parcel_step(request, pk, number, fulfilments.fulfilment_ship)

    @_parcel_action(
        "cancel",
        "Cancel a parcel before it ships: its stock goes back (staff)",
        _FULFILMENT_CANCEL_CONFLICT,
    )
    def fulfilment_cancel(
        self, request: Request, pk: str | None = None, number: str = ""
    ) -> Response:
        return self._parcel_step(request, pk, number, fulfilments.fulfilment_cancel)

    def _parcel_step(
        self, request: Request, pk: str | None, number: str, step: Callable[..., Any]
    ) -> Response:
        """Ship or cancel one of the order's parcels, then answer with it as it is now."""
        order = self._staff_order(request, pk)
        fulfilment = selectors.fulfilment_get(order=order, number=number, detail=False)
        step(fulfilment=fulfilment, actor=request_actor(request))
        fulfilment = selectors.fulfilment_get(order=order, number=number)
        return Response(FulfilmentOutputSerializer(fulfilment).data)

    def _staff_order(self, request: Request, pk: str | None) -> Order:
        # Access first: another customer's order is a 404 here too, not a 403.
        order = selectors.order_get_accessible(order_id=pk, user=request_actor(request))
        self.check_object_permissions(request, order)  # staff only (StaffOnObject)
        return order


def _order_answer(order: Order) -> dict[str, Any]:
    """An order just changed by a service, with its parcels read in two queries."""
    parcels = list(selectors.fulfilment_queryset().filter(order=order))
    return dict(OrderOutputSerializer(order, context={"fulfilments": parcels}).data)
