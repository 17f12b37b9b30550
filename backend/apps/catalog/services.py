"""Writes for the catalogue: categories, products, variants and staff stock adjustments.

Nothing is ever deleted (order lines and the ledger point at variants):
"deactivating" hides a row from customers. Every stock change goes through
``apps.catalog.stock.stock_apply`` so ``on_hand`` always equals the ledger sum.

What does not belong here: reads (``selectors.py``), HTTP objects.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import QuerySet
from django.utils.text import slugify

from apps.accounts.models import User
from apps.catalog import selectors
from apps.catalog.cache import catalog_changed
from apps.catalog.models import Category, Product, Stock, StockMovement, Variant, Warehouse
from apps.catalog.stock import stock_apply, stock_lock, warehouse_default
from utils.errors import ValidationError
from utils.services import model_update

# Stock.on_hand is a 32-bit integer column; refuse before the database would.
MAX_ON_HAND = 2**31 - 1
STAFF_STOCK_REASONS = (StockMovement.Reason.RECEIVE, StockMovement.Reason.ADJUST)

M = TypeVar("M", bound=models.Model)

# What staff may change on each (the input serializers name the same fields).
CATEGORY_FIELDS = ("name", "slug", "parent", "description", "position", "is_active")
PRODUCT_FIELDS = ("category", "name", "slug", "description", "is_active")
VARIANT_FIELDS = ("sku", "name", "price", "currency", "attributes", "position", "is_active")
WAREHOUSE_FIELDS = ("code", "name", "country", "priority", "is_active")


def _slug_for(*, name: str, slug: str | None) -> str:
    value = slug or slugify(name)[:200]
    if not value:
        raise ValidationError("slug", "Give a slug: none can be made from this name.")
    return value


def _others(queryset: QuerySet[M], exclude_pk: int | None) -> QuerySet[M]:
    return queryset if exclude_pk is None else queryset.exclude(pk=exclude_pk)


# The field each kind keeps unique, and the 400 a clash gives.
_UNIQUE: dict[type[models.Model], tuple[str, str]] = {
    Category: ("slug", "A category with this slug already exists."),
    Product: ("slug", "A product with this slug already exists."),
    Variant: ("sku", "A variant with this SKU already exists."),
    Warehouse: ("code", "A warehouse with this code already exists."),
}

Catalogued = TypeVar("Catalogued", Category, Product, Variant, Warehouse)


def _check_unique(model: type[models.Model], value: str, *, exclude_pk: int | None = None) -> None:
    field, message = _UNIQUE[model]
    if _others(model._default_manager.filter(**{field: value}), exclude_pk).exists():
        raise ValidationError(field, message)


def _save_unique(instance: models.Model, *, update_fields: list[str] | None = None) -> None:
    """Save, turning a unique-constraint race into the same 400 as the pre-check."""
    if update_fields == []:
        return  # model_update found nothing to change
    try:
        with transaction.atomic():
            instance.save(update_fields=update_fields)
    except IntegrityError as exc:
        raise ValidationError(*_UNIQUE[type(instance)]) from exc


def _update(instance: Catalogued, *, fields: tuple[str, ...], data: dict[str, Any]) -> Catalogued:
    """``model_update`` of a catalogue row, keeping its unique field unique."""
    catalog_changed()
    unique_field, _ = _UNIQUE[type(instance)]
    if unique_field in data:
        _check_unique(type(instance), data[unique_field], exclude_pk=instance.pk)
    instance, changed = model_update(instance=instance, fields=fields, data=data)
    _save_unique(instance, update_fields=changed)
    return instance


def _deactivate(instance: Catalogued) -> Catalogued:
    """Hide a row from customers (nothing is deleted: order lines and the ledger point at it)."""
    catalog_changed()
    instance.is_active = False
    instance.save(update_fields=["is_active", "updated_at"])
    return instance


# --- categories ----------------------------------------------------------------------


@transaction.atomic
def category_create(
    *,
    name: str,
    slug: str | None = None,
    parent: Category | None = None,
    description: str = "",
    position: int = 0,
    is_active: bool = True,
) -> Category:
    catalog_changed()
    slug = _slug_for(name=name, slug=slug)
    _check_unique(Category, slug)
    category = Category(
        name=name,
        slug=slug,
        parent=parent,
        description=description,
        position=position,
        is_active=is_active,
    )
    _save_unique(category)
    return category


@transaction.atomic
def category_update(*, category: Category, data: dict[str, Any]) -> Category:
    # The new parent may not be the category itself or one of its descendants.
    if data.get("parent") is not None and category.pk in selectors.category_ancestor_ids(
        category=data["parent"]
    ):
        raise ValidationError("parent", "A category cannot be placed under itself.")
    return _update(category, fields=CATEGORY_FIELDS, data=data)


@transaction.atomic
def category_deactivate(*, category: Category) -> Category:
    return _deactivate(category)


# --- products ------------------------------------------------------------------------


@transaction.atomic
def product_create(
    *,
    category: Category,
    name: str,
    slug: str | None = None,
    description: str = "",
    is_active: bool = True,
) -> Product:
    catalog_changed()
    slug = _slug_for(name=name, slug=slug)
    _check_unique(Product, slug)
    product = Product(
        category=category, name=name, slug=slug, description=description, is_active=is_active
    )
    _save_unique(product)
    return product


@transaction.atomic
def product_update(*, product: Product, data: dict[str, Any]) -> Product:
    return _update(product, fields=PRODUCT_FIELDS, data=data)


@transaction.atomic
def product_deactivate(*, product: Product) -> Product:
    return _deactivate(product)


# --- variants ------------------------------------------------------------------------


@transaction.atomic
def variant_create(
    *,
    product: Product,
    sku: str,
    name: str,
    price: Decimal,
    currency: str | None = None,
    attributes: dict[str, str] | None = None,
    position: int = 0,
    is_active: bool = True,
) -> Variant:
    """Create a variant and its stock row (0 on hand) together."""
    catalog_changed()
    _check_unique(Variant, sku)
    variant = Variant(
        product=product,
        sku=sku,
        name=name,
        price=price,
        currency=currency or settings.DEFAULT_CURRENCY,
        attributes=attributes or {},
        position=position,
        is_active=is_active,
    )
    _save_unique(variant)
    Stock.objects.create(variant=variant, warehouse=warehouse_default(), on_hand=0)
    return variant


@transaction.atomic
def variant_update(*, variant: Variant, data: dict[str, Any]) -> Variant:
    return _update(variant, fields=VARIANT_FIELDS, data=data)


@transaction.atomic
def variant_deactivate(*, variant: Variant) -> Variant:
    return _deactivate(variant)


@transaction.atomic
def stock_row_ensure(*, variant: Variant, warehouse: Warehouse | None = None) -> Stock:
    """The variant's stock row in ``warehouse`` (default: the default warehouse), created
    at 0 if it is missing (e.g. a variant made in the admin, or a new warehouse)."""
    stock, _ = Stock.objects.get_or_create(
        variant=variant, warehouse=warehouse or warehouse_default(), defaults={"on_hand": 0}
    )
    return stock


def warehouse_for_adjustment(*, warehouse_id: int | None) -> Warehouse:
    """The warehouse a staff adjustment names; without one, the only warehouse there is.

    400 when the id names no warehouse, or when none is named and there is more than one.
    """
    if warehouse_id is not None:
        warehouse = Warehouse.objects.filter(pk=warehouse_id).first()
        if warehouse is None:
            raise ValidationError("warehouse", "No warehouse has this id.")
        return warehouse
    warehouses = list(Warehouse.objects.order_by("id")[:2])
    if len(warehouses) > 1:
        raise ValidationError("warehouse", "Name the warehouse: there is more than one.")
    return warehouses[0] if warehouses else warehouse_default()


@transaction.atomic
def warehouse_create(*, data: dict[str, Any]) -> Warehouse:
    _check_unique(Warehouse, data["code"])
    catalog_changed()  # availability is the sum over active warehouses
    warehouse = Warehouse(**data)
    _save_unique(warehouse)
    return warehouse


@transaction.atomic
def warehouse_update(*, warehouse: Warehouse, data: dict[str, Any]) -> Warehouse:
    return _update(warehouse, fields=WAREHOUSE_FIELDS, data=data)


@transaction.atomic
def warehouse_deactivate(*, warehouse: Warehouse) -> Warehouse:
    """Stop selling from a warehouse (its stock stays, and counts again if reactivated)."""
    return _deactivate(warehouse)


@transaction.atomic
def variant_stock_adjust(
    *,
    variant: Variant,
    quantity: int,
    reason: str,
    note: str = "",
    actor: User | None = None,
    warehouse_id: int | None = None,
) -> int:
    """Receive or correct stock in one warehouse through the ledger; returns the new
    ``on_hand`` there.

    A result below zero is refused with ``OutOfStockError`` (409) and nothing is
    written. The stock row is locked first, so concurrent adjustments queue.
    """
    if reason not in STAFF_STOCK_REASONS:
        raise ValidationError("reason", "Staff adjustments are 'receive' or 'adjust'.")
    if quantity == 0:
        raise ValidationError("quantity", "The quantity must not be zero.")
    if reason == StockMovement.Reason.RECEIVE and quantity < 0:
        raise ValidationError("quantity", "A receipt adds stock: use 'adjust' to remove.")
    warehouse = warehouse_for_adjustment(warehouse_id=warehouse_id)
    stock_row_ensure(variant=variant, warehouse=warehouse)
    locked = stock_lock(variant_ids=[variant.pk])
    key = (variant.pk, warehouse.pk)
    if locked[key].on_hand + quantity > MAX_ON_HAND:
        raise ValidationError("quantity", f"Stock on hand may not exceed {MAX_ON_HAND}.")
    rows = stock_apply(
        changes={key: quantity}, reason=reason, actor=actor, note=note, locked=locked
    )
    return rows[key].on_hand
