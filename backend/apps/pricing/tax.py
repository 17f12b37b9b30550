"""Where tax rates come from: a ``TaxProvider``, chosen by ``settings.TAX_PROVIDER``.

A provider answers one question before pricing starts: the percent rate of each
tax class in a destination country. ``price_cart`` then applies the rates with no
I/O of its own, so an external tax service (Avalara, TaxJar, Stripe Tax) is a new
provider class and a setting, not a change to the cart or checkout. The default,
``FlatRateTaxProvider``, reads the ``TaxRate`` table, kept per process while its version
is unchanged (``apps.pricing.reference.TAX_RATES``: one query when out of date).
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from apps.pricing.reference import TAX_RATES


class TaxProvider(Protocol):
    def rates_for(self, *, country: str) -> dict[str, Decimal]:
        """Percent rate by tax-class code for ``country``; a class not listed is 0 %."""
        ...


class FlatRateTaxProvider:
    """The shop's own table of rates per (country, tax class)."""

    def rates_for(self, *, country: str) -> dict[str, Decimal]:
        return dict(TAX_RATES.get().get(country, {}))


@cache
def _provider_class(path: str) -> type[TaxProvider]:
    cls: type[TaxProvider] = import_string(path)
    return cls


def tax_provider() -> TaxProvider:
    return _provider_class(settings.TAX_PROVIDER)()
