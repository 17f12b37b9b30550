"""Integration tests (tests/): real PostgreSQL, Redis, and a real Celery worker."""

import dj_database_url

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL, REST_FRAMEWORK, cache_settings
from config.settings.env import env_str

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "") or "postgres://postgres@127.0.0.1:5432/storefront_it",
        conn_max_age=0,
    )
}
DATABASES["default"]["OPTIONS"] = {"connect_timeout": 3}

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
REDIS_URL = REDIS_URL or "redis://127.0.0.1:6379/15"
CACHES = cache_settings(REDIS_URL)
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "") or REDIS_URL
CELERY_TASK_ALWAYS_EAGER = False
SANDBOX_WEBHOOK_SECRET = "whsec_sandbox_test_secret"
OTEL_MODE = env_str("OTEL_MODE", "off")

# Throttles are exercised by their own tests (unit tier, and a multi-process gunicorn
# test that sets THROTTLE_AUTH); here they must not turn load tests into 429s.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(
        ("anon", "user", "auth", "checkout", "payment"), "100000/min"
    ),
}
