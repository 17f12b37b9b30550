"""Top-level URLs: /api/v1/, schema and docs, admin, health probes."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.ops import health
from apps.ops.dashboard import dashboard
from apps.ops.views import MetricsView

urlpatterns = [
    path("api/v1/", include("config.api_router")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("ops/", dashboard, name="ops-dashboard"),
    path(settings.ADMIN_URL, admin.site.urls),
]

handler400 = "utils.errors.handler400"
handler403 = "utils.errors.handler403"
handler404 = "utils.errors.handler404"
handler500 = "utils.errors.handler500"
