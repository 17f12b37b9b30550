"""Payment providers and the registry that picks one by name.

``get_provider("sandbox")`` / ``get_provider("stripe")``; a name that is unknown
or not enabled in ``settings.PAYMENT_PROVIDERS`` is a ``NotFoundError`` (404).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from apps.payments.providers.base import PaymentProvider
from utils.errors import NotFoundError


def _sandbox() -> PaymentProvider:
    from apps.payments.providers.sandbox import SandboxProvider

    return SandboxProvider()


def _stripe() -> PaymentProvider:
    # Imported on use: the Stripe SDK is large and only needed when Stripe is used.
    from apps.payments.providers.stripe import StripeProvider

    return StripeProvider()


_FACTORIES: dict[str, Callable[[], PaymentProvider]] = {"sandbox": _sandbox, "stripe": _stripe}


def provider_names() -> list[str]:
    """The providers this deployment accepts, in settings order."""
    return [name for name in settings.PAYMENT_PROVIDERS if name in _FACTORIES]


def get_provider(name: str) -> PaymentProvider:
    if name not in provider_names():
        raise NotFoundError("Unknown payment provider.", details={"provider": name})
    return _FACTORIES[name]()
