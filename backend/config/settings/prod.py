"""Production: secrets and hosts must come from the environment, or start fails."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    SANDBOX_WEBHOOK_SECRET,
    SIMPLE_JWT,
    STRIPE_API_KEY,
    STRIPE_WEBHOOK_SECRET,
    cache_settings,
    env,
    postgres_statement_options,
)
from config.settings.checks import payment_provider_settings_check
from config.settings.tasks import task_queues, transport_options

DEBUG = False
# No default: django-environ refuses to start without them ("Set the ... variable").
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
DATABASES = {"default": env.db("DATABASE_URL")}
for _name, _value in (("SECRET_KEY", SECRET_KEY), ("ALLOWED_HOSTS", ALLOWED_HOSTS)):
    if not _value:
        raise ImproperlyConfigured(f"Set the {_name} environment variable (it is empty).")
# Real money only by default: the sandbox accepts test tokens as paid, so a production
# deployment enables it only by naming it (the benchmark does, with its own secret).
PAYMENT_PROVIDERS = env.list("PAYMENT_PROVIDERS", default=["stripe"])
payment_provider_settings_check(
    PAYMENT_PROVIDERS,
    sandbox_secret=SANDBOX_WEBHOOK_SECRET,
    stripe_api_key=STRIPE_API_KEY,
    stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
)
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["OPTIONS"].update(postgres_statement_options())
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY}

# Throttle counters live in Redis so limits hold across processes; the broker too,
# unless CELERY_BROKER_URL names another (RabbitMQ: docs/operations.md).
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = cache_settings(env.str("CACHE_URL", default="") or REDIS_URL)
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = transport_options(CELERY_BROKER_URL)
CELERY_TASK_QUEUES = task_queues(CELERY_BROKER_URL)

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
