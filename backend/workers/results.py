"""The task-result backend: django-celery-results' database backend, retrying a lost
connection. Imports no app.

Storing a task's state (SUCCESS, RETRY, FAILURE) happens after its body, on the
worker's database connection. If the database dropped that connection meanwhile,
the stock backend retries only ``InterfaceError``; a terminated backend shows as
``OperationalError`` ("the connection is closed", "terminating connection due to
administrator command"), and the task would be reported failed although its body
had finished. Here both are retried on a fresh connection
(``CELERY_RESULT_BACKEND_ALWAYS_RETRY``, ``CELERY_RESULT_BACKEND_MAX_RETRIES``).
The domain rows remain the truth either way: a lost state row loses no work.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError, connection
from django_celery_results.backends.database import DatabaseBackend


class RetryingDatabaseBackend(DatabaseBackend):
    def exception_safe_to_retry(self, exc: Exception) -> bool:
        if isinstance(exc, (InterfaceError, OperationalError)):
            connection.close()  # the next try opens a fresh one
            return True
        return bool(super().exception_safe_to_retry(exc))
