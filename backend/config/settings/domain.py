"""Settings of outbound webhooks and accounts, read from the environment (part of base.py)."""

from __future__ import annotations

import environ

env = environ.Env()

# --- Outbound webhooks (apps.integrations) ----------------------------------------------
# Networks a webhook may reach although they are not public (CIDRs, e.g. "10.0.0.0/8" for an
# ERP on the private network). Empty: private, loopback and link-local addresses are refused.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float("WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=3.0)
WEBHOOK_READ_TIMEOUT_SECONDS = env.float("WEBHOOK_READ_TIMEOUT_SECONDS", default=5.0)
# Retries: exponential from the base, capped, half jittered, for this long after the event.
WEBHOOK_BACKOFF_SECONDS = env.float("WEBHOOK_BACKOFF_SECONDS", default=30.0)
WEBHOOK_BACKOFF_MAX_SECONDS = env.float("WEBHOOK_BACKOFF_MAX_SECONDS", default=3600.0)
WEBHOOK_RETRY_WINDOW_SECONDS = env.int("WEBHOOK_RETRY_WINDOW_SECONDS", default=24 * 3600)
# A wait up to this long is a Celery countdown; a longer one is sent by the sweep when due
# (a countdown past the broker's visibility timeout would be delivered twice).
WEBHOOK_COUNTDOWN_MAX_SECONDS = env.float("WEBHOOK_COUNTDOWN_MAX_SECONDS", default=600.0)
WEBHOOK_SUBSCRIPTION_CACHE_SECONDS = env.int("WEBHOOK_SUBSCRIPTION_CACHE_SECONDS", default=60)

# --- Accounts -----------------------------------------------------------------------------
# Links in account emails point at the shop's front end, which calls the API with the token.
PASSWORD_RESET_URL = env.str(
    "PASSWORD_RESET_URL",
    default="http://localhost:3000/reset-password?uid={uid}&token={token}",
)
EMAIL_VERIFICATION_URL = env.str(
    "EMAIL_VERIFICATION_URL", default="http://localhost:3000/verify-email?token={token}"
)
# Django's PasswordResetTokenGenerator reads this (seconds); the token is single-use anyway
# (it is bound to the password hash and the last login).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
EMAIL_VERIFICATION_MAX_AGE_SECONDS = env.int("EMAIL_VERIFICATION_MAX_AGE_SECONDS", default=259200)
# Whether a signed-in customer whose email is not verified may check out (guests always may).
CHECKOUT_REQUIRES_VERIFIED_EMAIL = env.bool("CHECKOUT_REQUIRES_VERIFIED_EMAIL", default=False)
