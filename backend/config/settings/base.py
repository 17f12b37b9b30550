"""Every setting of the project, read from the environment.

``dev.py``, ``test.py`` and ``prod.py`` only override values defined here.
Nothing secret has a real default: production refuses to start without it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ

from config.settings.tasks import *  # noqa: F403
from config.settings.tasks import CELERY_TASK_TIME_LIMIT

# Values come from the environment only (no .env file is read): cookiecutter-django's way.
env = environ.Env()

BACKEND_DIR = Path(__file__).resolve().parents[2]
BASE_DIR = BACKEND_DIR.parent

SECRET_KEY = env.str(
    "SECRET_KEY", default="insecure-dev-only-key-change-me-0123456789abcdefghijklmnop"
)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_results",
    "django_celery_beat",
    "apps.core",
    "apps.accounts",
    "apps.catalog",
    "apps.cart",
    "apps.orders",
    "apps.pricing",
    "apps.payments",
    "apps.notifications",
    "apps.ops",
    "apps.integrations",
    "apps.returns",
]

MIDDLEWARE = [
    "apps.ops.metrics.PrometheusMiddleware",
    # Before anything that can answer: every response to an allowed origin, early
    # refusals included, carries the CORS headers (a browser shows no body without them).
    "corsheaders.middleware.CorsMiddleware",
    "utils.middleware.ApiErrorShapeMiddleware",  # every error under /api/ is JSON
    "utils.middleware.BodySizeLimitMiddleware",
    "utils.middleware.NulCharacterMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "utils.middleware.ApiCommonMiddleware",  # Django's, minus slash redirects of API writes
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "utils.middleware.LazyMessageMiddleware",  # Django's, built on first use
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# SQLite is the embedded default. IMMEDIATE transactions take the write lock at BEGIN, so
# two concurrent checkouts queue on the busy timeout instead of one failing half way.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BACKEND_DIR / 'db.sqlite3'}")}
DATABASES["default"].update(CONN_MAX_AGE=env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)


def postgres_statement_options() -> dict[str, Any]:
    """psycopg sends each statement's values apart from its text (server-side binding), and
    a statement a connection runs a fifth time is prepared: PostgreSQL then skips parsing
    and planning it (about half the PostgreSQL CPU of an order: ``bench/profile.md``, row
    "prepared statements"). ``DB_PREPARE_THRESHOLD=0`` is Django's default instead (values
    bound into the text on the client, nothing prepared), for a transaction-pooling
    PgBouncer older than 1.21 (``docs/operations.md``)."""
    threshold = env.int("DB_PREPARE_THRESHOLD", default=5)
    if threshold <= 0:
        return {}
    return {"server_side_binding": True, "prepare_threshold": threshold}


if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["OPTIONS"].update(postgres_statement_options())

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Cache ----------------------------------------------------------------------
# REDIS_URL is the default of both the cache (CACHE_URL) and the broker
# (CELERY_BROKER_URL); each can point elsewhere (e.g. the broker at RabbitMQ).
REDIS_URL = env.str("REDIS_URL", default="")
CACHE_URL = env.str("CACHE_URL", default="") or REDIS_URL
# After a failed cache call, throttles and the catalogue skip the cache this long.
CACHE_RETRY_AFTER_SECONDS = env.float("CACHE_RETRY_AFTER_SECONDS", default=5.0)


def cache_settings(redis_url: str) -> dict[str, dict[str, object]]:
    """Redis (django-redis) when a URL is given, shared by every process so throttles
    hold across them; else locmem."""
    if not redis_url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "storefront",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }


CACHES = cache_settings(CACHE_URL)

# --- Auth -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BACKEND_DIR / "staticfiles"
ADMIN_URL = env.str("ADMIN_URL", default="admin/")

# Bodies over this size are refused with 413 before they are read.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=256 * 1024)

# --- REST framework --------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["utils.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["utils.renderers.JSONRenderer"],  # DRF's bytes, by orjson
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "utils.negotiation.AuthFirstContentNegotiation",
    "DEFAULT_PAGINATION_CLASS": "utils.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "utils.filters.StrictOrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "utils.schema.ErrorAwareAutoSchema",
    "EXCEPTION_HANDLER": "utils.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "utils.throttling.AnonRateThrottle",
        "utils.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="300/min"),
        "user": env.str("THROTTLE_USER", default="1200/min"),
        "auth": env.str("THROTTLE_AUTH", default="20/min"),
        "checkout": env.str("THROTTLE_CHECKOUT", default="30/min"),
        "payment": env.str("THROTTLE_PAYMENT", default="30/min"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Storefront API",
    "DESCRIPTION": (
        "Catalogue, carts, checkout, payments and order history for web and mobile shops. "
        'Every error body is `{"error": "<code>", "details": {...}}` (the `Error` schema). '
        "Money is a string with two decimals beside an ISO 4217 currency."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The project's serializer bases document themselves for developers, not for clients.
    "GET_LIB_DOC_EXCLUDES": "utils.schema.lib_doc_excludes",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "utils.schema.postprocess_nullable_refs",
        "config.openapi_examples.postprocess_examples",
    ],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVERS": [{"url": "/", "description": "The server that serves this document."}],
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "apps.orders.models.Order.Status",
        "PaymentStatusEnum": "apps.payments.models.Payment.Status",
        "RefundStatusEnum": "apps.payments.models.Refund.Status",
        "WebhookEventStatusEnum": "apps.payments.models.WebhookEvent.Status",
        "CartStatusEnum": "apps.cart.models.Cart.Status",
        "EmailLogStatusEnum": "apps.notifications.models.EmailLog.Status",
        "WebhookEventTypeEnum": "apps.integrations.models.EventType",
        "WebhookDeliveryStatusEnum": "apps.integrations.models.WebhookDelivery.Status",
        "VoucherKindEnum": "apps.pricing.models.DiscountKind",
        "PromotionKindEnum": ["percentage", "fixed"],
        "DiscountLineKindEnum": ["voucher", "promotion"],
        "ReturnStatusEnum": "apps.returns.models.ReturnRequest.Status",
        "ReturnReasonEnum": "apps.returns.models.ReturnRequest.Reason",
    },
}

# --- CORS and security -------------------------------------------------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_EXPOSE_HEADERS = ["Idempotent-Replayed", "Retry-After"]
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "x-order-token",
    "traceparent",
]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Celery, retries and sweeps: config/settings/tasks.py (imported above) -------

# --- Email ----------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="shop@example.com")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# A row left "sending" this long lost its worker between the hand-over and the record:
# sent again, with the same Message-ID (apps/notifications/services.py).
EMAIL_SENDING_STALE_SECONDS = env.int(
    "EMAIL_SENDING_STALE_SECONDS", default=CELERY_TASK_TIME_LIMIT + 10
)
# Tries at saving "sent" after the backend accepted an email (0.25 s, 0.5 s, ... apart).
EMAIL_RECORD_ATTEMPTS = env.int("EMAIL_RECORD_ATTEMPTS", default=5)

# --- Telemetry ------------------------------------------------------------------------
# off | console | otlp | memory (tests). Telemetry can never fail a request or a task.
OTEL_MODE = env.str("OTEL_MODE", default="off")
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="storefront")
OTEL_EXPORTER_OTLP_ENDPOINT = env.str(
    "OTEL_EXPORTER_OTLP_ENDPOINT", default="http://127.0.0.1:4318"
)

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # otelTraceID comes from OpenTelemetry's logging instrumentation (utils.telemetry);
        # "-" for a record made before it was switched on.
        "plain": {
            "()": "logging.Formatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s trace=%(otelTraceID)s %(message)s",
            "defaults": {"otelTraceID": "-"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
    },
}

# --- Domain -----------------------------------------------------------------------------
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default="EUR")
# Public product pages are cached at most this long (seconds); any committed catalogue
# or stock change invalidates them at once (apps/catalog/cache.py). 0 turns it off.
CATALOG_CACHE_SECONDS = env.float("CATALOG_CACHE_SECONDS", default=2.0)
# A computed page reads its variants as entered and the promotions from a cache kept per
# content version, at most this long (apps/catalog/page_data.py); stock is always read
# fresh. 0 turns it off.
CATALOG_DATA_CACHE_SECONDS = env.float("CATALOG_DATA_CACHE_SECONDS", default=2.0)
CART_MAX_QUANTITY_PER_LINE = env.int("CART_MAX_QUANTITY_PER_LINE", default=99)
CART_MAX_LINES = env.int("CART_MAX_LINES", default=50)
# Pricing (apps/pricing; shipping, rates, vouchers, sales are rows): catalogue prices are
# gross (EU style) or net (US style); the cart estimates tax for DEFAULT_COUNTRY.
PRICES_INCLUDE_TAX = env.bool("PRICES_INCLUDE_TAX", default=True)
DEFAULT_COUNTRY = env.str("DEFAULT_COUNTRY", default="DE")
TAX_PROVIDER = env.str("TAX_PROVIDER", default="apps.pricing.tax.FlatRateTaxProvider")
# Tax rates, shipping methods and promotions are kept per process while their version in
# the shared cache is unchanged (a write bumps it; apps/pricing/reference.py), at most this
# long (seconds): the worst case when a bump is lost. 0 reads them from the database.
PRICING_REFERENCE_CACHE_SECONDS = env.float("PRICING_REFERENCE_CACHE_SECONDS", default=2.0)
PAYMENT_DEADLINE_MINUTES = env.int("PAYMENT_DEADLINE_MINUTES", default=30)
# A customer may ask to return units up to this many days after their parcel shipped.
RETURN_WINDOW_DAYS = env.int("RETURN_WINDOW_DAYS", default=30)
# prod refuses to start when one of them lacks its keys (settings/checks.py).
PAYMENT_PROVIDERS = env.list("PAYMENT_PROVIDERS", default=["sandbox", "stripe"])
# Hosts a checkout or pay-again `return_url` (3-D Secure) may point to; none: refused.
PAYMENT_RETURN_URL_HOSTS = env.list("PAYMENT_RETURN_URL_HOSTS", default=[])
IDEMPOTENCY_KEY_TTL_HOURS = 24
# A key still "in progress" after this long belongs to a request that died: it may be reused.
IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS = env.int(
    "IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS", default=300
)
SANDBOX_WEBHOOK_SECRET = env.str("SANDBOX_WEBHOOK_SECRET", default="")
# Seconds the sandbox waits after recording a charge, as a slow provider would (tests).
SANDBOX_LATENCY_SECONDS = env.float("SANDBOX_LATENCY_SECONDS", default=0.0)
STRIPE_API_KEY = env.str("STRIPE_API_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Ops thresholds: when a pending payment or a queued email counts as stuck.
OPS_STUCK_PAYMENT_MINUTES = env.int("OPS_STUCK_PAYMENT_MINUTES", default=10)
OPS_QUEUED_EMAIL_MINUTES = env.int("OPS_QUEUED_EMAIL_MINUTES", default=10)
# A parcel packed (pending) and not handed to the carrier for this many days is listed
# on the ops page ("fulfilments not shipped").
OPS_UNSHIPPED_FULFILMENT_DAYS = env.int("OPS_UNSHIPPED_FULFILMENT_DAYS", default=2)
OPS_BROKER_TIMEOUT_SECONDS = env.float("OPS_BROKER_TIMEOUT_SECONDS", default=1.0)
READYZ_DEADLINE_SECONDS = env.float("READYZ_DEADLINE_SECONDS", default=2.0)
# /readyz reports workers as silent when no task finished for this long (the minute
# sweeps finish one a minute while beat and a worker run).
WORKERS_SILENT_AFTER_SECONDS = env.int("WORKERS_SILENT_AFTER_SECONDS", default=300)
from config.settings.domain import *  # noqa: E402, F403  (webhooks, accounts)
