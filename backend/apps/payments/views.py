"""Payment endpoints: pay again, refund, read a payment, and provider webhooks. Thin views.

- ``POST /orders/{id}/pay/`` and ``POST /orders/{id}/refund/`` live in
  ``OrderPaymentViewSet``, registered on the same ``orders`` prefix as the
  orders app's ``OrderViewSet`` (detail actions only, so the two coexist);
- ``GET /payments/{id}/``: the order's owner, staff, or a guest with ``X-Order-Token``;
- ``POST /payments/webhooks/{provider}/``: no authentication, no CSRF, no throttle;
  the signature on the raw body is the authentication.

Errors are raised, never caught: ``utils.errors`` maps them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from apps.orders.models import Order
from apps.orders.selectors import order_get_accessible, order_token_hash
from apps.payments import selectors, services
from apps.payments.models import Payment
from apps.payments.serializers import (
    PayInputSerializer,
    PaymentOutputSerializer,
    RefundInputSerializer,
    RefundOutputSerializer,
    WebhookAckOutputSerializer,
)
from utils.idempotency import HEADER as IDEMPOTENCY_HEADER
from utils.idempotency import idempotent
from utils.schema import error_response
from utils.throttling import ScopedRateThrottle

ORDER_TOKEN_HEADER = "X-Order-Token"

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "At most 255 characters. A retry with the same key returns the first response "
        "again with `Idempotent-Replayed: true`; the same key with a different body is a "
        "422 `idempotency_conflict`; a duplicate while the first runs is a 409."
    ),
)
ORDER_TOKEN_PARAMETER = OpenApiParameter(
    ORDER_TOKEN_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="A guest order's `access_token`, returned once by checkout.",
)
SIGNATURE_PARAMETERS = [
    OpenApiParameter(
        "X-Sandbox-Signature",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=False,
        description='Sandbox: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` '
        "with SANDBOX_WEBHOOK_SECRET.",
    ),
    OpenApiParameter(
        "Stripe-Signature",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=False,
        description="Stripe: the header Stripe sends, checked with STRIPE_WEBHOOK_SECRET.",
    ),
    OpenApiParameter(
        "provider",
        OpenApiTypes.STR,
        OpenApiParameter.PATH,
        enum=["sandbox", "stripe"],
        description="The provider that signed the event.",
    ),
]

_ERROR_TEXT = {
    400: "validation_error (details = field errors), invalid_signature or parse_error",
    401: "not_authenticated",
    403: "permission_denied (staff only)",
    404: "not_found: no such order, payment or provider, or not yours",
    409: "invalid_state (details say why) or idempotency_in_progress",
    422: "idempotency_conflict: the key was used with a different request",
    429: "throttled (scope payment): details.retry_after seconds",
}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: error_response(_ERROR_TEXT[code]) for code in codes}


def _order_token(request: Request) -> str | None:
    return request.headers.get(ORDER_TOKEN_HEADER) or None


def _pay_key_owner(request: Request, view_kwargs: Mapping[str, Any]) -> str:
    """Idempotency keys of a guest belong to its order token, never to whoever knows the id."""
    if request.user is not None and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"order-token:{order_token_hash(_order_token(request) or '')}"


class OrderPaymentViewSet(viewsets.GenericViewSet):
    """Pay an order again after a failed payment; refund a paid order (staff)."""

    serializer_class = PaymentOutputSerializer
    filter_backends: list[Any] = []
    pagination_class = None
    throttle_scope = "payment"

    def get_queryset(self) -> QuerySet[Order]:
        # Orders are reached through order_get_accessible; this only types {id} in the schema.
        return Order.objects.none()

    def get_permissions(self) -> list[permissions.BasePermission]:
        if self.action == "refund":
            return [permissions.IsAdminUser()]
        return [permissions.AllowAny()]  # a guest presents X-Order-Token

    def get_throttles(self) -> list[BaseThrottle]:
        throttles = super().get_throttles()
        if self.action == "pay":
            throttles.append(ScopedRateThrottle())
        return throttles

    @extend_schema(
        summary="Pay again after a failed payment",
        request=PayInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER, ORDER_TOKEN_PARAMETER],
        responses={202: PaymentOutputSerializer, **_errors(400, 404, 409, 422, 429)},
    )
    @action(detail=True, methods=["post"])
    @idempotent(owner=_pay_key_owner)
    def pay(self, request: Request, pk: str | None = None) -> Response:
        order = order_get_accessible(
            order_id=pk, user=request.user, order_token=_order_token(request)
        )
        data = PayInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment = services.payment_retry(order=order, actor=request.user, **data.validated_data)
        return Response(PaymentOutputSerializer(payment).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Refund a paid order (staff)",
        request=RefundInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={202: RefundOutputSerializer, **_errors(400, 401, 403, 404, 409, 422)},
    )
    @action(detail=True, methods=["post"])
    @idempotent()
    def refund(self, request: Request, pk: str | None = None) -> Response:
        order = order_get_accessible(order_id=pk, user=request.user)
        data = RefundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        refund = services.refund_create(
            order=order,
            amount=values["amount"],
            restock=values["restock"],
            reason=values["reason"],
            lines=[dict(line) for line in values.get("lines", [])],
            actor=request.user,
        )
        return Response(RefundOutputSerializer(refund).data, status=status.HTTP_202_ACCEPTED)


class PaymentViewSet(viewsets.GenericViewSet):
    """One payment of an order the caller may see (owner, staff, guest token)."""

    serializer_class = PaymentOutputSerializer
    permission_classes = [permissions.AllowAny]  # the selector decides; others get a 404
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Payment]:
        # Reached through the selector; this only types {id} in the schema.
        return Payment.objects.none()

    @extend_schema(
        parameters=[ORDER_TOKEN_PARAMETER],
        responses={200: PaymentOutputSerializer, **_errors(404)},
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        payment = selectors.payment_get_accessible(
            payment_id=pk, user=request.user, order_token=_order_token(request)
        )
        return Response(PaymentOutputSerializer(payment).data)


class PaymentWebhookView(APIView):
    """Signed provider events: verified on the raw body, stored once, applied by a task."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [permissions.AllowAny]
    throttle_classes: list[type[BaseThrottle]] = []

    @extend_schema(
        summary="Receive a provider webhook",
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=SIGNATURE_PARAMETERS,
        responses={200: WebhookAckOutputSerializer, **_errors(400, 404)},
        auth=[],
    )
    def post(self, request: Request, provider: str) -> Response:
        # request.body: the raw bytes, read before (and instead of) any parser.
        event, created = services.webhook_receive(
            provider=provider, body=request.body, headers=request.headers
        )
        return Response(WebhookAckOutputSerializer(event, context={"duplicate": not created}).data)
