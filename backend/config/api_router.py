"""The one router of /api/v1/: every app registers its ViewSets here."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from apps.accounts.views import AddressViewSet, AuthViewSet
from apps.cart.views import CartViewSet
from apps.catalog.views import CategoryViewSet, ProductViewSet, VariantViewSet
from apps.ops.views import (
    OverviewViewSet,
    StuckPaymentViewSet,
    TaskResultViewSet,
    WebhookEventViewSet,
    WorkerProbeViewSet,
)
from apps.orders.views import CartCheckoutViewSet, OrderViewSet
from apps.payments.views import OrderPaymentViewSet, PaymentViewSet, PaymentWebhookView

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
router.register("products", ProductViewSet, basename="product")
router.register("carts", CartViewSet, basename="cart")
router.register("carts", CartCheckoutViewSet, basename="cart-checkout")
router.register("orders", OrderViewSet, basename="order")
router.register("orders", OrderPaymentViewSet, basename="order-payment")
router.register("categories", CategoryViewSet, basename="category")
router.register("variants", VariantViewSet, basename="variant")
router.register("auth", AuthViewSet, basename="auth")
router.register("addresses", AddressViewSet, basename="address")
router.register("payments", PaymentViewSet, basename="payment")
router.register("ops/probes", WorkerProbeViewSet, basename="ops-probe")
router.register("ops/overview", OverviewViewSet, basename="ops-overview")
router.register("ops/tasks", TaskResultViewSet, basename="ops-task")
router.register("ops/webhooks", WebhookEventViewSet, basename="ops-webhook")
router.register("ops/payments", StuckPaymentViewSet, basename="ops-payment")

urlpatterns = router.urls
urlpatterns += [
    path(
        "payments/webhooks/<str:provider>/",
        PaymentWebhookView.as_view(),
        name="payment-webhook",
    ),
]
