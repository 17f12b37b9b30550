"""The one router of /api/v1/: every app registers its ViewSets here."""

from rest_framework.routers import DefaultRouter

from apps.accounts.views import AddressViewSet, AuthViewSet
from apps.ops.views import WorkerProbeViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False

router.register("auth", AuthViewSet, basename="auth")
router.register("addresses", AddressViewSet, basename="address")
router.register("ops/probes", WorkerProbeViewSet, basename="ops-probe")

urlpatterns = router.urls
