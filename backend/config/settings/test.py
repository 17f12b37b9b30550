"""Unit tests: fast hashing, locmem email, eager tasks, no network."""

from config.settings.base import *  # noqa: F403
from config.settings.base import REST_FRAMEWORK

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False
SANDBOX_WEBHOOK_SECRET = "whsec_sandbox_test_secret"
PAYMENT_RETURN_URL_HOSTS = ["shop.example", "localhost", "127.0.0.1"]
OTEL_MODE = "off"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        **REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "anon": "10000/min",
        "user": "10000/min",
        "auth": "10000/min",
        "checkout": "10000/min",
        "payment": "10000/min",
    },
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "WARNING"},
}
# Unit tests run inside a transaction that never commits, so on-commit cache
# invalidation cannot run: the catalogue cache is tested on its own (transaction=True).
CATALOG_CACHE_SECONDS = 0.0
CATALOG_DATA_CACHE_SECONDS = 0.0
# The pricing rule tables are read from the database on every use, so that the query
# budgets are the cold path; apps/pricing/test_reference.py turns the copies on.
PRICING_REFERENCE_CACHE_SECONDS = 0.0
# Webhook tests run their receiver on 127.0.0.1 over plain HTTP: allowed explicitly here only.
WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
WEBHOOK_ALLOW_HTTP = True
