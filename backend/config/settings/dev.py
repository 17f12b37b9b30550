"""Local development: the embedded default (SQLite, local-memory cache, eager tasks)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL, env

DEBUG = env.bool("DEBUG", default=True)
# Without a broker the shop still works: tasks run in-process right after commit.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
SANDBOX_WEBHOOK_SECRET = env.str("SANDBOX_WEBHOOK_SECRET", default="whsec_sandbox_dev_secret")
