"""Local development: the embedded default (SQLite, local-memory cache, eager tasks)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL, STRIPE_API_KEY, STRIPE_WEBHOOK_SECRET, env

DEBUG = env.bool("DEBUG", default=True)
# Without a broker the shop still works: tasks run in-process right after commit.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
SANDBOX_WEBHOOK_SECRET = env.str("SANDBOX_WEBHOOK_SECRET", default="whsec_sandbox_dev_secret")
# Only the offline sandbox unless Stripe's keys are set (a Stripe checkout without them
# could only fail); PAYMENT_PROVIDERS in the environment still decides when given.
PAYMENT_PROVIDERS = env.list(
    "PAYMENT_PROVIDERS",
    default=["sandbox", "stripe"] if STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET else ["sandbox"],
)
# `make run` storefronts on this machine may be sent back to after 3-D Secure.
PAYMENT_RETURN_URL_HOSTS = env.list("PAYMENT_RETURN_URL_HOSTS", default=["localhost", "127.0.0.1"])
# Eagerly run tasks store their results too (django-celery-results), so the ops overview
# and /ops/ show their outcomes in the embedded default as they do with a worker.
CELERY_TASK_STORE_EAGER_RESULT = True
