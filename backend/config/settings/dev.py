"""Local development: the embedded default (SQLite, local-memory cache, eager tasks)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL
from config.settings.env import env_bool, env_str

DEBUG = env_bool("DEBUG", True)
# Without a broker the shop still works: tasks run in-process right after commit.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
SANDBOX_WEBHOOK_SECRET = env_str("SANDBOX_WEBHOOK_SECRET", "whsec_sandbox_dev_secret")
