"""Payment endpoints: pay again, refund, read a payment, and provider webhooks. Thin views.

- ``POST /orders/{id}/pay/`` and ``POST /orders/{id}/refund/`` live in
  ``OrderPaymentViewSet``, registered on the same ``orders`` prefix as the
  orders app's ``OrderViewSet`` (detail actions only, so the two coexist);
- ``GET /payments/{id}/``: the order's owner, staff, or a guest with ``X-Order-Token``;
  only the owner (signed-in customer or guest token) sees ``next_action`` and
  ``client_secret`` of a ``requires_action`` payment;
- ``POST /payments/{id}/refresh/``: ask the provider now (owner, guest token or staff);
- ``GET /payments/sandbox/authenticate/{charge id}/?result=succeed|fail``: the
  sandbox's simulated 3-D Secure page (redirects to the payment's ``return_url``);
- ``POST /payments/webhooks/{provider}/``: no authentication, no CSRF, no throttle;
  the signature on the raw body is the authentication.

Errors are raised, never caught: ``utils.errors`` maps them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.db.models import QuerySet
from django.http import HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from apps.orders.models import Order
from apps.orders.selectors import order_get_accessible, order_key_owner
from apps.payments import selectors, services
from apps.payments.models import Payment
from apps.payments.serializers import (
    PayInputSerializer,
    PaymentOutputSerializer,
    RefundInputSerializer,
    RefundOutputSerializer,
    WebhookAckOutputSerializer,
)
from utils.actors import request_actor
from utils.errors import ValidationError
from utils.headers import IDEMPOTENCY_KEY_PARAMETER, ORDER_TOKEN_PARAMETER, order_token
from utils.idempotency import idempotent
from utils.schema import error_response
from utils.serializers import validated_input
from utils.throttling import ScopedRateThrottle

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

# 400, 401, 403, 404 and 429 are documented by utils.schema.ErrorAwareAutoSchema.
_CONFLICT = error_response("invalid_state (details say why) or idempotency_in_progress")
_IDEMPOTENCY_CONFLICT = error_response(
    "idempotency_conflict: the key was used with a different request"
)
_WEBHOOK_REFUSED = error_response(
    "invalid_signature (details.reason: secret_not_configured, missing_header, "
    "malformed_header, signature_mismatch or timestamp_out_of_tolerance) or parse_error"
)


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
        summary="Pay again (after a failed or cancelled payment, or instead of one "
        "waiting for authentication)",
        request=PayInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER, ORDER_TOKEN_PARAMETER],
        responses={202: PaymentOutputSerializer, 409: _CONFLICT, 422: _IDEMPOTENCY_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    @idempotent(owner=order_key_owner)
    def pay(self, request: Request, pk: str | None = None) -> Response:
        order = order_get_accessible(
            order_id=pk, user=request_actor(request), order_token=order_token(request)
        )
        values = validated_input(PayInputSerializer, request)
        payment = services.payment_retry(order=order, actor=request_actor(request), **values)
        return Response(PaymentOutputSerializer(payment).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Refund a paid order (staff)",
        request=RefundInputSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={202: RefundOutputSerializer, 409: _CONFLICT, 422: _IDEMPOTENCY_CONFLICT},
    )
    @action(detail=True, methods=["post"])
    @idempotent()
    def refund(self, request: Request, pk: str | None = None) -> Response:
        order = order_get_accessible(order_id=pk, user=request_actor(request))
        values = validated_input(RefundInputSerializer, request)
        refund = services.refund_create(
            order=order,
            amount=values["amount"],
            restock=values["restock"],
            reason=values["reason"],
            lines=[dict(line) for line in values.get("lines", [])],
            actor=request_actor(request),
        )
        return Response(RefundOutputSerializer(refund).data, status=status.HTTP_202_ACCEPTED)


class PaymentViewSet(viewsets.GenericViewSet):
    """One payment of an order the caller may see (owner, staff, guest token)."""

    serializer_class = PaymentOutputSerializer
    permission_classes = [permissions.AllowAny]  # the selector decides; others get a 404
    filter_backends: list[Any] = []
    throttle_scope = "payment"

    def get_throttles(self) -> list[BaseThrottle]:
        throttles = super().get_throttles()
        if self.action == "refresh":
            throttles.append(ScopedRateThrottle())
        return throttles

    def get_queryset(self) -> QuerySet[Payment]:
        # Reached through the selector; this only types {id} in the schema.
        return Payment.objects.none()

    def _answer(self, request: Request, payment: Payment) -> Response:
        owner = selectors.payment_is_owner(
            payment=payment, user=request_actor(request), order_token=order_token(request)
        )
        context = {"request": request, "show_action": owner}
        return Response(PaymentOutputSerializer(payment, context=context).data)

    @extend_schema(
        parameters=[ORDER_TOKEN_PARAMETER],
        responses={200: PaymentOutputSerializer},
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        payment = selectors.payment_get_accessible(
            payment_id=pk, user=request_actor(request), order_token=order_token(request)
        )
        return self._answer(request, payment)

    @extend_schema(
        summary="Ask the provider for the payment's status now",
        description="For a client back from `return_url` before the provider's webhook: "
        "the provider's current status is applied exactly as the webhook would apply it.",
        request=None,
        parameters=[ORDER_TOKEN_PARAMETER],
        responses={200: PaymentOutputSerializer, 503: error_response("provider_unavailable")},
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: str | None = None) -> Response:
        actor = request_actor(request)
        payment = selectors.payment_get_accessible(
            payment_id=pk, user=actor, order_token=order_token(request)
        )
        payment = services.payment_refresh(payment=payment)
        payment = selectors.payment_get_accessible(
            payment_id=payment.pk, user=actor, order_token=order_token(request)
        )
        return self._answer(request, payment)


class SandboxAuthenticationOutputSerializer(serializers.Serializer):
    payment_id = serializers.UUIDField(read_only=True)
    status = serializers.CharField(read_only=True)
    succeed_url = serializers.CharField(read_only=True, help_text="Follow to authenticate.")
    fail_url = serializers.CharField(read_only=True, help_text="Follow to refuse.")


_AUTH_RESULT_PARAMETER = OpenApiParameter(
    "result",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    required=False,
    enum=["succeed", "fail"],
    description="The customer's answer on the simulated bank page; absent: the choices.",
    allow_blank=False,
)


class SandboxAuthenticationView(APIView):
    """The sandbox's 3-D Secure page, offline: ``?result=succeed|fail`` settles the charge
    through the webhook's service and redirects (302) to the payment's ``return_url``
    (with ``payment_id`` and ``redirect_status``); without a ``return_url``, or without
    ``result``, the answer is JSON."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [permissions.AllowAny]  # the charge id is the unguessable secret
    throttle_classes: list[type[BaseThrottle]] = []

    @extend_schema(
        summary="Sandbox: the simulated bank page of a requires_action payment",
        description="The sandbox's 3-D Secure page, offline. `?result=succeed` or "
        "`?result=fail` settles the payment exactly as the provider's webhook would, then "
        "redirects (302) to the payment's `return_url` with `payment_id` and "
        "`redirect_status` added; without a `return_url` the answer is JSON. Without "
        "`result`: the payment's status and the two links.",
        parameters=[_AUTH_RESULT_PARAMETER],
        responses={
            200: SandboxAuthenticationOutputSerializer,
            302: OpenApiResponse(description="Back to the payment's return_url."),
        },
        auth=[],
    )
    def get(self, request: Request, charge_id: str) -> Response | HttpResponseRedirect:
        result = request.query_params.get("result")
        if result is None:
            payment = selectors.payment_sandbox_get(charge_id=charge_id)
            page = request.build_absolute_uri(request.path)
            body = {
                "payment_id": payment.id,
                "status": payment.status,
                "succeed_url": f"{page}?result=succeed",
                "fail_url": f"{page}?result=fail",
            }
            return Response(SandboxAuthenticationOutputSerializer(body).data)
        if result not in ("succeed", "fail"):
            raise ValidationError("result", 'Must be "succeed" or "fail".')
        payment = services.payment_sandbox_authenticate(charge_id=charge_id, result=result)
        redirect_status = "succeeded" if payment.status == Payment.Status.CAPTURED else "failed"
        if payment.return_url:
            return HttpResponseRedirect(
                _with_query(
                    payment.return_url, payment_id=str(payment.id), redirect_status=redirect_status
                )
            )
        body = {
            "payment_id": payment.id,
            "status": payment.status,
            "succeed_url": "",
            "fail_url": "",
        }
        return Response(SandboxAuthenticationOutputSerializer(body).data)


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


class PaymentWebhookView(APIView):
    """Signed provider events: verified on the raw body, stored once, applied by a task."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [permissions.AllowAny]
    throttle_classes: list[type[BaseThrottle]] = []

    @extend_schema(
        summary="Receive a provider webhook",
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=SIGNATURE_PARAMETERS,
        responses={200: WebhookAckOutputSerializer, 400: _WEBHOOK_REFUSED},
        auth=[],
    )
    def post(self, request: Request, provider: str) -> Response:
        # request.body: the raw bytes, read before (and instead of) any parser.
        event, created = services.webhook_receive(
            provider=provider, body=request.body, headers=request.headers
        )
        return Response(WebhookAckOutputSerializer(event, context={"duplicate": not created}).data)
