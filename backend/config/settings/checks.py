"""Start-up checks of settings that prod applies (imported by prod.py; no settings here)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


def payment_provider_settings_check(
    providers: list[str], *, sandbox_secret: str, stripe_api_key: str, stripe_webhook_secret: str
) -> None:
    """Refuse a deployment whose enabled providers lack their keys (an empty webhook
    secret would refuse every event, or worse, if a library accepted it)."""
    required = {
        "sandbox": {"SANDBOX_WEBHOOK_SECRET": sandbox_secret},
        "stripe": {
            "STRIPE_API_KEY": stripe_api_key,
            "STRIPE_WEBHOOK_SECRET": stripe_webhook_secret,
        },
    }
    for name in providers:
        if name not in required:
            raise ImproperlyConfigured(f"PAYMENT_PROVIDERS names an unknown provider {name!r}.")
        missing = [key for key, value in required[name].items() if not value.strip()]
        if missing:
            raise ImproperlyConfigured(
                f"PAYMENT_PROVIDERS enables {name!r} but {', '.join(missing)} is empty: "
                "set it, or remove the provider."
            )
