"""Local development: the embedded default (SQLite, local-memory cache, eager tasks)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL, env

DEBUG = env.bool("DEBUG", default=True)
# Without a broker the shop still works: tasks run in-process right after commit.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
SANDBOX_WEBHOOK_SECRET = env.str("SANDBOX_WEBHOOK_SECRET", default="whsec_sandbox_dev_secret")
# Eagerly run tasks store their results too (django-celery-results), so the ops overview
# and /ops/ show their outcomes in the embedded default as they do with a worker.
CELERY_TASK_STORE_EAGER_RESULT = True
