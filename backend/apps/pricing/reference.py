"""The pricing reference tables, kept in each process while their version is unchanged.

Tax rates, shipping zones and methods and promotions are read by every cart answer and
every checkout, and written rarely (by staff, through the API or the admin). Each table
is read whole into a process's memory and kept there under a version that lives in the
shared cache (``pricing:ref:<table>``); a read asks the shared cache for the version (one
``GET``, no SQL) and serves the kept copy when it matches.

Freshness: a save or delete of one of a table's models (``post_save``/``post_delete``,
so the staff API, the admin, factories and the shell alike) bumps its version at once and
again after the transaction commits. The version is read *before* the table is, and the
copy is kept under the version read, so a copy is never older than its version: once a
write has committed and bumped, no process serves what it replaced. The bump at once makes
a write visible inside its own transaction; the one after the commit drops anything read
in between. A write that sends no signal (``QuerySet.update``, ``bulk_create``) bumps
nothing: call ``pricing_reference_changed()`` after it. A copy also lives at most
``PRICING_REFERENCE_CACHE_SECONDS`` (default 2 s), the worst case when a bump is lost (the
shared cache down at the moment of the write), as for the catalogue's caches.

The shared cache fails open: while it is down every read goes to the database (the copy
is not used, since its version cannot be checked). ``PRICING_REFERENCE_CACHE_SECONDS = 0``
turns the copies off (the unit tier's default, so its query budgets are the cold path).

``bench/profile.md``, row "pricing reference tables kept per process".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from apps.pricing.info import PromotionInfo, ZonedMethod
from utils.cache_guard import cache_failed, cache_usable
from utils.cache_versions import version_bump, version_read

logger = logging.getLogger(__name__)

T = TypeVar("T")
_COMPONENT = "pricing_reference"


@dataclass(frozen=True)
class _Copy(Generic[T]):
    version: int
    value: T
    loaded_at: float  # time.monotonic()


class ReferenceTable(Generic[T]):
    """One table read whole by ``load`` and kept per process under its shared version."""

    def __init__(self, name: str, load: Callable[[], T]) -> None:
        self.key = f"pricing:ref:{name}"
        self._load = load
        self._copy: _Copy[T] | None = None

    def get(self) -> T:
        seconds = settings.PRICING_REFERENCE_CACHE_SECONDS
        if seconds <= 0 or not cache_usable(_COMPONENT):
            return self._load()
        try:
            version = version_read(self.key)
        except Exception as exc:
            cache_failed(_COMPONENT, exc)
            return self._load()
        kept = self._copy
        if (
            kept is not None
            and kept.version == version
            and time.monotonic() - kept.loaded_at < seconds
        ):
            return kept.value
        value = self._load()  # after the version was read: the copy is never older
        self._copy = _Copy(version=version, value=value, loaded_at=time.monotonic())
        return value

    def changed(self) -> None:
        """Bump the version now and after the current transaction commits (never raises)."""
        _bump(self.key)
        transaction.on_commit(lambda: _bump(self.key), robust=True)

    def forget(self) -> None:
        """Drop this process's copy (tests that change the clock or the settings)."""
        self._copy = None


def _bump(key: str) -> None:
    try:
        version_bump(key)
    except Exception as exc:
        cache_failed(_COMPONENT, exc)  # copies expire on their own


# --- The tables ---------------------------------------------------------------------------


def _load_tax_rates() -> dict[str, dict[str, Decimal]]:
    from apps.pricing.models import TaxRate

    table: dict[str, dict[str, Decimal]] = {}
    for country, code, rate in TaxRate.objects.values_list("country", "tax_class__code", "rate"):
        table.setdefault(country, {})[code] = rate
    return table


def _load_shipping_methods() -> tuple[ZonedMethod, ...]:
    from apps.pricing import selectors

    return selectors.shipping_methods_read()


def _load_promotions() -> tuple[PromotionInfo, ...]:
    from apps.pricing import selectors

    return selectors.promotions_upcoming(now=timezone.now())


# country -> tax-class code -> percent rate
TAX_RATES: ReferenceTable[dict[str, dict[str, Decimal]]] = ReferenceTable(
    "tax_rates", _load_tax_rates
)
# the active methods in display order, each with its zone's countries
SHIPPING_METHODS: ReferenceTable[tuple[ZonedMethod, ...]] = ReferenceTable(
    "shipping_methods", _load_shipping_methods
)
# the active promotions not ended when read (the clock is applied at each use)
PROMOTIONS: ReferenceTable[tuple[PromotionInfo, ...]] = ReferenceTable(
    "promotions", _load_promotions
)
TABLES = (TAX_RATES, SHIPPING_METHODS, PROMOTIONS)


def pricing_reference_changed() -> None:
    """Bump every table: after a write that sends no model signal (``QuerySet.update``)."""
    for table in TABLES:
        table.changed()


def _watch(sender: type[models.Model], *tables: ReferenceTable[Any]) -> None:
    def bump(**kwargs: object) -> None:
        for table in tables:
            table.changed()

    uid = f"pricing-reference-{sender._meta.label_lower}"
    post_save.connect(bump, sender=sender, weak=False, dispatch_uid=uid + "-save")
    post_delete.connect(bump, sender=sender, weak=False, dispatch_uid=uid + "-delete")


def connect_signals() -> None:
    """Called once by ``PricingConfig.ready``."""
    from apps.pricing.models import Promotion, ShippingMethod, ShippingZone, TaxClass, TaxRate

    _watch(TaxRate, TAX_RATES)
    _watch(TaxClass, TAX_RATES)  # the table is keyed by the class's code
    _watch(ShippingZone, SHIPPING_METHODS)  # methods carry their zone's countries
    _watch(ShippingMethod, SHIPPING_METHODS)
    _watch(Promotion, PROMOTIONS)
