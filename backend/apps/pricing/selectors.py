"""Reads that fill the typed pricing inputs (``apps.pricing.info``).

The cart and checkout call these, then the pure ``calculate.price_cart``. The rule tables
(promotions, tax rates, shipping methods) are read whole and kept per process while their
version is unchanged (``apps.pricing.reference``): a query each when a process's copy is
missing or out of date, none otherwise. Zones and methods are few, so the methods are
matched to the country here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from apps.pricing import reference
from apps.pricing.info import PromotionInfo, ShippingMethodInfo, Tier, VoucherInfo, ZonedMethod
from apps.pricing.models import Promotion, ShippingMethod, Voucher
from apps.pricing.tax import tax_provider


def _ids(values: object) -> frozenset[int]:
    if not isinstance(values, list):
        return frozenset()
    return frozenset(int(value) for value in values if isinstance(value, int))


def _promotion_info(row: Promotion) -> PromotionInfo:
    return PromotionInfo(
        id=row.pk,
        name=row.name,
        kind=row.kind,
        value=row.value,
        variant_ids=_ids(row.variant_ids),
        product_ids=_ids(row.product_ids),
        category_ids=_ids(row.category_ids),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
    )


def promotions_running(*, now: datetime) -> tuple[PromotionInfo, ...]:
    """The active promotions whose window contains ``now``: the process's copy of those
    not yet ended (``reference.PROMOTIONS``), the clock applied here."""
    return promotions_schedule_at(reference.PROMOTIONS.get(), now=now)[0]


def promotions_schedule(*, now: datetime) -> tuple[tuple[PromotionInfo, ...], datetime | None]:
    """The promotions running at ``now`` and the next instant one starts or ends (None:
    no change is scheduled), in one query: until then the running set is the same, so a
    cached catalogue page computed now may live until then and no longer."""
    return promotions_schedule_at(promotions_upcoming(now=now), now=now)


def promotions_upcoming(*, now: datetime) -> tuple[PromotionInfo, ...]:
    """The active promotions that have not ended at ``now`` (running or yet to start), by
    id, in one query: what ``promotions_schedule_at`` needs for any later instant, until a
    promotion is written."""
    return tuple(
        _promotion_info(row)
        for row in Promotion.objects.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
        .filter(is_active=True)
        .order_by("id")
    )


def promotions_schedule_at(
    upcoming: tuple[PromotionInfo, ...], *, now: datetime
) -> tuple[tuple[PromotionInfo, ...], datetime | None]:
    """``promotions_schedule`` from ``promotions_upcoming`` read at ``now`` or before."""
    running = tuple(
        row
        for row in upcoming
        if (row.starts_at is None or row.starts_at <= now)
        and (row.ends_at is None or row.ends_at > now)
    )
    boundaries = [
        moment
        for row in upcoming
        for moment in (row.starts_at, row.ends_at)
        if moment is not None and moment > now
    ]
    return running, min(boundaries, default=None)


def tax_rates_for(*, country: str) -> dict[str, Decimal]:
    return tax_provider().rates_for(country=country)


def voucher_info(voucher: Voucher) -> VoucherInfo:
    return VoucherInfo(
        id=voucher.pk,
        code=voucher.code,
        kind=voucher.kind,
        value=voucher.value,
        product_ids=_ids(voucher.product_ids),
        category_ids=_ids(voucher.category_ids),
        min_subtotal=voucher.min_subtotal,
        starts_at=voucher.starts_at,
        ends_at=voucher.ends_at,
        usage_limit=voucher.usage_limit,
        used_count=voucher.used_count,
        once_per_customer=voucher.once_per_customer,
        is_active=voucher.is_active,
    )


def voucher_by_code(code: str) -> Voucher | None:
    return Voucher.objects.filter(code=code.strip().upper()).first()


def _method_info(method: ShippingMethod) -> ShippingMethodInfo:
    tiers = tuple(
        Tier(
            up_to=None if tier.get("up_to") is None else Decimal(str(tier["up_to"])),
            price=Decimal(str(tier["price"])),
        )
        for tier in (method.tiers or [])
    )
    return ShippingMethodInfo(
        id=method.pk,
        code=method.code,
        name=method.name,
        zone_name=method.zone.name,
        rule=method.rule,
        price=method.price,
        tiers=tiers,
        free_over=method.free_over,
        min_days=method.min_days,
        max_days=method.max_days,
        is_active=method.is_active,
    )


def shipping_methods_read() -> tuple[ZonedMethod, ...]:
    """Every active method with its zone's countries, in display order (one query)."""
    return tuple(
        ZonedMethod(
            method=_method_info(method),
            countries=frozenset(method.zone.countries or ()),
            rest_of_world=method.zone.is_rest_of_world,
        )
        for method in ShippingMethod.objects.filter(is_active=True).select_related("zone")
    )


def shipping_methods_for(*, country: str) -> list[ShippingMethodInfo]:
    """The active methods of the zone that lists ``country`` (else of the rest-of-world
    zone), in display order, from the process's copy (``reference.SHIPPING_METHODS``)."""
    methods = reference.SHIPPING_METHODS.get()
    listed = [m.method for m in methods if country in m.countries]
    return listed or [m.method for m in methods if m.rest_of_world]


def shipping_method_for(*, country: str, code: str) -> ShippingMethodInfo | None:
    return next((m for m in shipping_methods_for(country=country) if m.code == code), None)
