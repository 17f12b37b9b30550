"""The one router of /api/v1/: every app registers its ViewSets here; ``/api/v1/`` itself
is the index of what the router holds."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, path, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from apps.accounts.views import AddressViewSet, AuthViewSet
from apps.cart.views import CartViewSet
from apps.catalog.views import CategoryViewSet, ProductViewSet, VariantViewSet
from apps.catalog.warehouses import WarehouseViewSet
from apps.integrations.views import WebhookDeliveryViewSet, WebhookEndpointViewSet
from apps.ops.views import (
    OverviewViewSet,
    StuckPaymentViewSet,
    TaskResultViewSet,
    WebhookEventViewSet,
    WorkerProbeViewSet,
)
from apps.orders.views import CartCheckoutViewSet, OrderViewSet
from apps.payments.views import (
    OrderPaymentViewSet,
    PaymentViewSet,
    PaymentWebhookView,
    SandboxAuthenticationView,
)
from apps.pricing.views import (
    PromotionViewSet,
    ShippingMethodViewSet,
    ShippingZoneViewSet,
    TaxClassViewSet,
    TaxRateViewSet,
    VoucherViewSet,
)
from apps.returns.views import OrderReturnViewSet, ReturnViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
# No ".json" twins of every route: the API speaks JSON only, and the actions do not
# take the ``format`` argument those routes pass (each twin was a 500).
router.include_format_suffixes = False

# The most requested routes first: Django tries the patterns in order, and every pattern
# passed over costs a regex match on each request (bench/profile.md, row "routes in
# traffic order").
#
# /carts/ and /orders/ are each served by two apps, on the same prefix:
#   /carts/, /carts/{id}/, /carts/{id}/items/..., /carts/{id}/claim/  apps.cart.views.CartViewSet
#   /carts/{id}/checkout/                            apps.orders.views.CartCheckoutViewSet
#   /orders/, /orders/{id}/, .../events/, .../cancel/, .../fulfil/  apps.orders.views.OrderViewSet
#   /orders/{id}/pay/, /orders/{id}/refund/          apps.payments.views.OrderPaymentViewSet
#   /orders/{id}/returns/                            apps.returns.views.OrderReturnViewSet
router.register("products", ProductViewSet, basename="product")
router.register("warehouses", WarehouseViewSet, basename="warehouse")
router.register("carts", CartViewSet, basename="cart")
router.register("carts", CartCheckoutViewSet, basename="cart-checkout")
router.register("orders", OrderViewSet, basename="order")
router.register("orders", OrderPaymentViewSet, basename="order-payment")
router.register("orders", OrderReturnViewSet, basename="order-return")
router.register("categories", CategoryViewSet, basename="category")
router.register("variants", VariantViewSet, basename="variant")
router.register("auth", AuthViewSet, basename="auth")
router.register("addresses", AddressViewSet, basename="address")
router.register("payments", PaymentViewSet, basename="payment")
router.register("pricing/shipping-zones", ShippingZoneViewSet, basename="shipping-zone")
router.register("pricing/shipping-methods", ShippingMethodViewSet, basename="shipping-method")
router.register("pricing/tax-classes", TaxClassViewSet, basename="tax-class")
router.register("pricing/tax-rates", TaxRateViewSet, basename="tax-rate")
router.register("pricing/vouchers", VoucherViewSet, basename="voucher")
router.register("pricing/promotions", PromotionViewSet, basename="promotion")
router.register("ops/probes", WorkerProbeViewSet, basename="ops-probe")
router.register("ops/overview", OverviewViewSet, basename="ops-overview")
router.register("ops/tasks", TaskResultViewSet, basename="ops-task")
router.register("ops/webhooks", WebhookEventViewSet, basename="ops-webhook")
router.register("ops/payments", StuckPaymentViewSet, basename="ops-payment")
router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("returns", ReturnViewSet, basename="return")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")


def resource_index() -> dict[str, str]:
    """Path of every collection (``products``) and collection-level action (``auth/token``).

    Detail routes need an id and the webhook route a provider: those are in the schema.
    """
    index: dict[str, str] = {}
    for prefix, viewset, basename in router.registry:
        names = [(prefix, f"{basename}-list")]
        actions: list[Any] = viewset.get_extra_actions()
        names += [
            (f"{prefix}/{action.url_path}", f"{basename}-{action.url_name}")
            for action in actions
            if not action.detail
        ]
        for key, name in names:
            try:
                index.setdefault(key, reverse(name))
            except NoReverseMatch:
                continue  # a viewset without a list route (auth, payments)
    return dict(sorted(index.items()))


class ApiIndexOutputSerializer(serializers.Serializer):
    version = serializers.CharField(help_text="The API version of every URL below.")
    schema = serializers.URLField(help_text="The OpenAPI 3 document (YAML; ?format=json).")
    docs = serializers.URLField(help_text="Swagger UI for the document.")
    resources = serializers.DictField(
        child=serializers.URLField(),
        help_text="Each collection and collection-level action, by its path under /api/v1/.",
    )


class ApiRootView(APIView):
    """What the API offers: its resources, the OpenAPI document and its docs page."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(summary="API index", responses={200: ApiIndexOutputSerializer})
    def get(self, request: Request) -> Response:
        absolute = request.build_absolute_uri
        body: dict[str, Any] = {
            "version": "v1",
            "schema": absolute(reverse("schema")),
            "docs": absolute(reverse("docs")),
            "resources": {key: absolute(url) for key, url in resource_index().items()},
        }
        return Response(body)


urlpatterns = router.urls
urlpatterns += [
    path("", ApiRootView.as_view(), name="api-root"),
    path(
        "payments/webhooks/<str:provider>/",
        PaymentWebhookView.as_view(),
        name="payment-webhook",
    ),
    path(
        "payments/sandbox/authenticate/<str:charge_id>/",
        SandboxAuthenticationView.as_view(),
        name="payment-sandbox-authenticate",
    ),
]
