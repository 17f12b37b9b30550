"""Integration tests (tests/): real PostgreSQL, Redis, and a real Celery worker."""

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    CACHE_URL,
    REDIS_URL,
    REST_FRAMEWORK,
    cache_settings,
    env,
    postgres_statement_options,
)
from config.settings.tasks import task_queues, transport_options

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/storefront_it")
}
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["OPTIONS"] = {"connect_timeout": 3, **postgres_statement_options()}

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default="")  # the file backend: set by the test
EMAIL_TEST_DELAY_SECONDS = env.float("EMAIL_TEST_DELAY_SECONDS", default=0.0)
REDIS_URL = REDIS_URL or "redis://127.0.0.1:6379/15"
CACHES = cache_settings(CACHE_URL or REDIS_URL)
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = transport_options(CELERY_BROKER_URL)
CELERY_TASK_QUEUES = task_queues(CELERY_BROKER_URL)
CELERY_TASK_ALWAYS_EAGER = False
SANDBOX_WEBHOOK_SECRET = "whsec_sandbox_test_secret"
PAYMENT_RETURN_URL_HOSTS = ["shop.example", "localhost", "127.0.0.1"]
OTEL_MODE = env.str("OTEL_MODE", default="off")

# Throttles are exercised by their own tests (unit tier, and a multi-process gunicorn
# test that sets THROTTLE_AUTH); here they must not turn load tests into 429s.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(
        ("anon", "user", "auth", "checkout", "payment"), "100000/min"
    ),
}
# The webhook receiver of the integration tests listens on 127.0.0.1 over plain HTTP.
WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
WEBHOOK_ALLOW_HTTP = True
