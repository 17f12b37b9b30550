"""Staff writes of pricing rules (the staff API and its rules; the admin uses the models'
own validation). One transaction each; a refused write is a 400 and changes nothing.

Rules beyond a row's own fields: a country is in at most one zone; at most one
rest-of-world zone; a tiered method has ascending tiers; a percentage is at most 100;
the ids a voucher or promotion names exist; a window starts before it ends.
A voucher is deactivated, never deleted (its uses stay); a tax class still on a
product cannot be deleted (409).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import ProtectedError

from apps.catalog.cache import catalog_changed
from apps.catalog.models import Category, Product, Variant
from apps.pricing.models import (
    DiscountKind,
    Promotion,
    ShippingMethod,
    ShippingZone,
    TaxClass,
    TaxRate,
    Voucher,
)
from utils.errors import InvalidStateError, ValidationError


def _window(obj: Voucher | Promotion) -> None:
    if obj.starts_at and obj.ends_at and obj.starts_at >= obj.ends_at:
        raise ValidationError("ends_at", "Must be after starts_at.")


def _percent_at_most_100(obj: Voucher | Promotion) -> None:
    if obj.kind == DiscountKind.PERCENTAGE and obj.value > 100:
        raise ValidationError("value", "A percentage is at most 100.")


def _exist(field: str, model: type[models.Model], ids: list[int]) -> None:
    found = set(model._default_manager.filter(pk__in=ids).values_list("pk", flat=True))
    missing = sorted(set(ids) - found)
    if missing:
        raise ValidationError(field, f"No such ids: {missing}.")


def _zone_check(zone: ShippingZone) -> None:
    zone.countries = sorted(set(zone.countries or []))
    others = ShippingZone.objects.exclude(pk=zone.pk)
    if zone.is_rest_of_world and others.filter(is_rest_of_world=True).exists():
        raise ValidationError("is_rest_of_world", "There already is a rest-of-world zone.")
    taken = {c for other in others for c in (other.countries or [])} & set(zone.countries)
    if taken:
        raise ValidationError("countries", f"Already in another zone: {sorted(taken)}.")


def _method_check(method: ShippingMethod) -> None:
    tiers = method.tiers or []
    if method.rule != ShippingMethod.Rule.FLAT and not tiers:
        raise ValidationError("tiers", "A subtotal or weight rule needs at least one tier.")
    bounds = [Decimal(t["up_to"]) for t in tiers if t.get("up_to") is not None]
    if bounds != sorted(set(bounds)) or any(t.get("up_to") is None for t in tiers[:-1]):
        raise ValidationError("tiers", "Tiers ascend by up_to; only the last may be unbounded.")
    if method.min_days > method.max_days:
        raise ValidationError("max_days", "Must be at least min_days.")


def _voucher_check(voucher: Voucher) -> None:
    voucher.code = voucher.code.upper()
    _window(voucher)
    _percent_at_most_100(voucher)
    _exist("product_ids", Product, voucher.product_ids)
    _exist("category_ids", Category, voucher.category_ids)


def _promotion_check(promotion: Promotion) -> None:
    _window(promotion)
    _percent_at_most_100(promotion)
    if promotion.value <= 0:
        raise ValidationError("value", "Must be more than zero.")
    _exist("variant_ids", Variant, promotion.variant_ids)
    _exist("product_ids", Product, promotion.product_ids)
    _exist("category_ids", Category, promotion.category_ids)


def _method_input(data: dict[str, Any]) -> dict[str, Any]:
    if "zone" in data:
        zone = ShippingZone.objects.filter(pk=data.pop("zone")).first()
        if zone is None:
            raise ValidationError("zone", "No such zone.")
        data["zone"] = zone
    if "tiers" in data:
        data["tiers"] = [
            {"up_to": None if t["up_to"] is None else str(t["up_to"]), "price": str(t["price"])}
            for t in data["tiers"]
        ]
    return data


def _rate_input(data: dict[str, Any]) -> dict[str, Any]:
    if "tax_class" in data:
        tax_class = TaxClass.objects.filter(code=data["tax_class"]).first()
        if tax_class is None:
            raise ValidationError("tax_class", "No such tax class.")
        data["tax_class"] = tax_class
    return data


# model -> (input conversion, cross-row checks): one entry per kind of rule.
_Convert = Callable[[dict[str, Any]], dict[str, Any]]
_RULES: dict[type[models.Model], tuple[_Convert, Callable[[Any], None]]] = {
    ShippingZone: (dict, _zone_check),
    ShippingMethod: (_method_input, _method_check),
    TaxClass: (dict, lambda obj: None),
    TaxRate: (_rate_input, lambda obj: None),
    Voucher: (dict, _voucher_check),
    Promotion: (dict, _promotion_check),
}  # fmt: skip


def pricing_rule_check(obj: models.Model) -> None:
    """The cross-row rules of ``obj``'s kind (the admin's forms call this too)."""
    _RULES[type(obj)][1](obj)


def pricing_rule_save(
    *, model: type[models.Model], instance: models.Model | None, data: dict[str, Any]
) -> models.Model:
    """Create (``instance`` None) or change a pricing rule; 400 ``validation_error`` naming
    the field for anything refused, and nothing is written then."""
    convert, check = _RULES[model]
    values = convert(dict(data))
    with transaction.atomic():
        obj = instance if instance is not None else model()
        for field, value in values.items():
            setattr(obj, field, value)
        check(obj)
        try:
            obj.full_clean()
        except DjangoValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise ValidationError(
                "non_field_errors" if field == "__all__" else field, messages
            ) from exc
        obj.save()
        if isinstance(obj, Promotion):  # the catalogue shows promoted prices
            catalog_changed()
    return obj


def pricing_rule_delete(*, instance: models.Model) -> None:
    """Delete a rule; a voucher is deactivated instead; 409 if rows still use it."""
    with transaction.atomic():
        if isinstance(instance, Voucher):
            instance.is_active = False
            instance.save(update_fields=["is_active"])
            return
        if isinstance(instance, Promotion):
            catalog_changed()
        try:
            instance.delete()
        except ProtectedError as exc:
            raise InvalidStateError(
                "Still in use; change what uses it first.",
                details={
                    "used_by": sorted({type(o).__name__.lower() for o in exc.protected_objects})
                },
            ) from exc
