"""A mail backend for the integration tier (imported by settings, never by app code).

``SlowFileBackend`` writes each message to ``EMAIL_FILE_PATH`` as Django's file
backend does (every process sees them: a test counts real sends), then waits
``EMAIL_TEST_DELAY_SECONDS`` after the hand-over, as a slow SMTP server would: the
window in which a test drops the database before the outcome is saved.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail.backends.filebased import EmailBackend


class SlowFileBackend(EmailBackend):
    def send_messages(self, email_messages: Sequence[Any]) -> int:
        sent = super().send_messages(email_messages)
        time.sleep(float(getattr(settings, "EMAIL_TEST_DELAY_SECONDS", 0.0)))
        return sent
