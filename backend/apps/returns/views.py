"""Returns: ``/orders/{id}/returns/`` and ``/orders/{id}/returns/{number}/cancel/`` (the
order's owner, a guest with its token, staff) and ``/returns/...`` (staff: the list, one
return, and its approve, reject, receive, refund and cancel steps). Thin views: validate,
one selector for access, one service, serialize. Another caller's order is a 404; a
customer on a staff route is a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from apps.orders.models import Order
from apps.orders.selectors import order_get_accessible, order_key_owner
from apps.returns import refunds, selectors, services
from apps.returns.filters import ReturnFilter
from apps.returns.models import ReturnRequest
from apps.returns.serializers import (
    ReturnActionInputSerializer,
    ReturnCreateInputSerializer,
    ReturnOutputSerializer,
    ReturnReceiveInputSerializer,
    ReturnRejectInputSerializer,
)
from utils.actors import request_actor
from utils.headers import IDEMPOTENCY_KEY_PARAMETER, ORDER_TOKEN_PARAMETER, order_token
from utils.idempotency import idempotent
from utils.schema import error_response
from utils.serializers import validated_input

# 400, 401, 403, 404 and 429 are documented by utils.schema.ErrorAwareAutoSchema.
_CREATE_INVALID = error_response(
    "validation_error; details.lines holds each refused line's errors by its index in "
    'the list sent ({"1": {"quantity": [...]}}): '
    "not in the order, listed twice, not shipped, or more units than can be returned"
)
_CREATE_CONFLICT = error_response(
    "invalid_state (the order is not fulfilled, partially fulfilled or partially refunded), "
    "return_window_closed (details.lines: shipped_at, window_closed_at; details.window_days) "
    "or idempotency_in_progress"
)
_IDEMPOTENCY_CONFLICT = error_response(
    "idempotency_conflict: the key was used with a different request"
)
_STEP_CONFLICT = error_response(
    "invalid_state: not allowed from the return's status (details.status, allowed)"
)
_CANCEL_CONFLICT = error_response(
    "invalid_state: the return is not requested or approved (it was received, rejected, "
    "refunded or cancelled already; details.status, allowed), or idempotency_in_progress"
)
_RECEIVE_INVALID = error_response(
    "validation_error; details.lines holds each refused line's errors by its index: "
    "not in the return, more "
    "than was to come back, or a missing, unknown or inactive warehouse"
)


class OrderReturnViewSet(viewsets.GenericViewSet):
    """An order's returns: ask for one, list them."""

    permission_classes = [permissions.AllowAny]  # a guest presents X-Order-Token
    filter_backends: list[Any] = []
    pagination_class = None
    serializer_class = ReturnOutputSerializer

    def get_queryset(self) -> QuerySet[Order]:
        return Order.objects.none()  # orders are reached through order_get_accessible

    def _order(self, request: Request, pk: str | None) -> Order:
        return order_get_accessible(
            order_id=pk, user=request_actor(request), order_token=order_token(request)
        )

    @extend_schema(
        summary="An order's returns, oldest first",
        parameters=[ORDER_TOKEN_PARAMETER],
        responses={200: ReturnOutputSerializer(many=True)},
    )
    @action(detail=True, methods=["get"])
    def returns(self, request: Request, pk: str | None = None) -> Response:
        order = self._order(request, pk)
        returns = selectors.return_list_for_order(order=order)
        return Response(ReturnOutputSerializer(returns, many=True).data)

    @extend_schema(
        summary="Ask to return shipped units",
        request=ReturnCreateInputSerializer,
        parameters=[ORDER_TOKEN_PARAMETER, IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: ReturnOutputSerializer,
            400: _CREATE_INVALID,
            409: _CREATE_CONFLICT,
            422: _IDEMPOTENCY_CONFLICT,
        },
    )
    @returns.mapping.post
    @idempotent(owner=order_key_owner)
    def returns_create(self, request: Request, pk: str | None = None) -> Response:
        order = self._order(request, pk)
        values = validated_input(ReturnCreateInputSerializer, request)
        created = services.return_request_create(
            order=order,
            lines=values["lines"],
            reason=values["reason"],
            note=values["note"],
            actor=request_actor(request),
        )
        output = ReturnOutputSerializer(selectors.return_get(number=created.number))
        return Response(output.data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Withdraw a return before anything arrived",
        request=ReturnActionInputSerializer,
        parameters=[ORDER_TOKEN_PARAMETER, IDEMPOTENCY_KEY_PARAMETER],
        responses={200: ReturnOutputSerializer, 409: _CANCEL_CONFLICT, 422: _IDEMPOTENCY_CONFLICT},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"returns/(?P<number>[A-Za-z0-9-]{1,32})/cancel",
        url_name="return-cancel",
    )
    @idempotent(owner=order_key_owner)
    def return_cancel(self, request: Request, pk: str | None = None, number: str = "") -> Response:
        order = self._order(request, pk)
        validated_input(ReturnActionInputSerializer, request)
        found = selectors.return_get_for_order(order=order, number=number)
        services.return_cancel(return_request=found, actor=request_actor(request))
        output = ReturnOutputSerializer(selectors.return_get_for_order(order=order, number=number))
        return Response(output.data)


_STEP_RESPONSES = {200: ReturnOutputSerializer, 409: _STEP_CONFLICT}


class ReturnViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Returns for staff: filter by status, and move each one on."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = ReturnOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ReturnFilter
    lookup_field = "number"
    lookup_value_regex = "[A-Za-z0-9-]{1,32}"

    def get_queryset(self) -> QuerySet[ReturnRequest]:
        if getattr(self, "swagger_fake_view", False):
            return ReturnRequest.objects.none()
        return selectors.return_list()

    def retrieve(self, request: Request, number: str | None = None) -> Response:
        return Response(ReturnOutputSerializer(selectors.return_get(number=str(number))).data)

    def _step(
        self,
        request: Request,
        number: str | None,
        step: Callable[..., ReturnRequest],
        body: type[BaseSerializer] = ReturnActionInputSerializer,
        *fields: str,
        code: int = status.HTTP_200_OK,
    ) -> Response:
        """Validate the body, take ``step`` on the return (with the body's ``fields``), then
        answer with the return as it is now."""
        values = validated_input(body, request)
        found = selectors.return_get(number=str(number))
        taken = step(
            return_request=found,
            actor=request_actor(request),
            **{name: values[name] for name in fields},
        )
        output = ReturnOutputSerializer(selectors.return_get(number=taken.number))
        return Response(output.data, status=code)

    @extend_schema(
        summary="Approve a requested return",
        request=ReturnActionInputSerializer,
        responses=_STEP_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, number: str | None = None) -> Response:
        return self._step(request, number, services.return_approve)

    @extend_schema(
        summary="Reject a return", request=ReturnRejectInputSerializer, responses=_STEP_RESPONSES
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, number: str | None = None) -> Response:
        return self._step(
            request, number, services.return_reject, ReturnRejectInputSerializer, "staff_note"
        )

    @extend_schema(
        summary="Record what arrived (and restock it)",
        request=ReturnReceiveInputSerializer,
        parameters=[],
        responses={200: ReturnOutputSerializer, 400: _RECEIVE_INVALID, 409: _STEP_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def receive(self, request: Request, number: str | None = None) -> Response:
        return self._step(
            request, number, services.return_receive, ReturnReceiveInputSerializer, "lines"
        )

    @extend_schema(
        summary="Cancel a return before anything arrived (for the customer)",
        request=ReturnActionInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={200: ReturnOutputSerializer, 409: _CANCEL_CONFLICT, 422: _IDEMPOTENCY_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    @idempotent()
    def cancel(self, request: Request, number: str | None = None) -> Response:
        return self._step(request, number, services.return_cancel)

    @extend_schema(
        summary="Refund the received units",
        request=ReturnActionInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            202: ReturnOutputSerializer,
            400: error_response("validation_error: more than is left to refund on the order"),
            409: _STEP_CONFLICT,
            422: _IDEMPOTENCY_CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    @idempotent()
    def refund(self, request: Request, number: str | None = None) -> Response:
        return self._step(request, number, refunds.return_refund, code=status.HTTP_202_ACCEPTED)
