"""Writes for carts: open one, add/set/remove lines, claim a guest cart after sign-in.

Every function locks the cart row first (``cart_lock_open``: the lock and the
``updated_at`` stamp in one ``UPDATE ... RETURNING``), so two requests on one
cart queue instead of racing, and refuses to change a cart that is not ``open``
(409 ``invalid_state``). Carts do not reserve stock: the
stock check here is against what is on hand now; checkout takes the stock.

What does not belong here: reads and pricing (``selectors.py``), HTTP objects.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.cart.models import Cart, CartItem
from apps.cart.selectors import (
    CartDetail,
    cart_access_filter,
    cart_detail_build,
    cart_get,
    cart_item_list,
    cart_open_for_user,
)
from apps.catalog.models import Variant
from apps.pricing.errors import VoucherError, voucher_used_up
from apps.pricing.selectors import voucher_by_code
from apps.pricing.services import voucher_used_by
from utils.errors import InvalidStateError, NotFoundError, OutOfStockError, ValidationError


def _max_per_line() -> int:
    return int(settings.CART_MAX_QUANTITY_PER_LINE)


def _ensure_open(cart: Cart) -> None:
    if cart.status != Cart.Status.OPEN:
        raise InvalidStateError(
            f"This cart is {cart.status} and can no longer change.",
            details={"status": cart.status},
        )


def _out_of_stock(*, variant_id: int, requested: int, available: int, message: str) -> Exception:
    return OutOfStockError(
        message,
        details={
            "variants": [
                {"variant_id": variant_id, "requested": requested, "available": max(0, available)}
            ]
        },
    )


def _check_line(*, cart: Cart, variant: Variant, quantity: int, available: int) -> None:
    """Refuse a line quantity the cart cannot hold: the rules of every cart write."""
    if quantity < 1:
        raise ValidationError("quantity", "The quantity must be at least 1.")
    if not (variant.is_active and variant.product.is_active):
        raise _out_of_stock(
            variant_id=variant.pk,
            requested=quantity,
            available=0,
            message="This variant is no longer sold.",
        )
    if variant.currency != cart.currency:
        raise ValidationError(
            "variant_id",
            f"This variant is priced in {variant.currency}, the cart in {cart.currency}.",
        )
    if quantity > _max_per_line():
        raise ValidationError(
            "quantity", f"At most {_max_per_line()} units of one variant per cart."
        )
    if quantity > available:
        raise _out_of_stock(
            variant_id=variant.pk,
            requested=quantity,
            available=available,
            message="Not enough stock for this quantity.",
        )


def _touch(cart: Cart) -> None:
    cart.save(update_fields=["updated_at"])


def cart_lock_open(*, cart_id: Any, user: User | None, status: str | None = None) -> Cart:
    """Lock the caller's open cart and stamp ``updated_at`` (and ``status``, if given).

    One ``UPDATE ... WHERE id AND <access rule> AND status = 'open' RETURNING *``
    takes the row lock that queues writers on this cart and records the change
    (what the abandoned-cart sweep reads) in a single round trip; it is rolled
    back with the rest if the write is refused. Only when no row comes back does
    a plain read tell a 404 (not reachable) from a 409 ``invalid_state``.
    Must run inside a transaction.
    """
    try:
        cart_uuid = uuid.UUID(str(cart_id))
    except (TypeError, ValueError) as exc:
        raise NotFoundError("Cart not found.") from exc
    # The WHERE clause is the one cart_get reads with (same access rule), compiled
    # by the ORM; only the UPDATE ... RETURNING around it is written here.
    rows = Cart.objects.filter(cart_access_filter(user=user), pk=cart_uuid, status=Cart.Status.OPEN)
    connection = connections[rows.db]
    where, where_params = rows.query.get_compiler(using=rows.db).compile(rows.query.where)
    meta = Cart._meta
    fields = {field.name: field for field in meta.concrete_fields}
    quote = connection.ops.quote_name
    changes: dict[str, Any] = {"updated_at": timezone.now()}
    if status is not None:
        changes["status"] = status
    assignments = [f"{quote(fields[name].column)} = %s" for name in changes]
    params = [fields[name].get_db_prep_save(value, connection) for name, value in changes.items()]
    columns = ", ".join(quote(field.column) for field in fields.values())
    sql = (  # only names and the ORM's WHERE are formatted in; every value is a parameter
        f"UPDATE {quote(meta.db_table)} SET {', '.join(assignments)} "  # noqa: S608
        f"WHERE {where} RETURNING {columns}"
    )
    params += list(where_params)
    found = list(Cart.objects.raw(sql, params))
    if found:
        return found[0]
    cart = cart_get(cart_id=cart_uuid, user=user)  # 404 if not reachable
    _ensure_open(cart)  # 409 if it is no longer open
    # Open now, but it was not when the UPDATE looked (a concurrent change rolled back).
    raise InvalidStateError("The cart changed at the same time; retry.")  # pragma: no cover


def _find_item(items: list[CartItem], item_id: int) -> CartItem:
    for item in items:
        if item.pk == item_id:
            return item
    raise NotFoundError("Cart item not found.")


@transaction.atomic
def cart_open(*, user: User | None) -> tuple[Cart, bool]:
    """A new guest cart, or the signed-in user's open cart (created if none); and "created"."""
    if user is None:
        return Cart.objects.create(currency=settings.DEFAULT_CURRENCY), True
    existing = cart_open_for_user(user=user)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return Cart.objects.create(user=user, currency=settings.DEFAULT_CURRENCY), True
    except IntegrityError:
        # A concurrent request opened it first (one open cart per user is a constraint).
        return Cart.objects.get(user=user, status=Cart.Status.OPEN), False


def _line_upsert(*, cart: Cart, variant_id: int, quantity: int) -> None:
    """Add ``quantity`` to the cart's line of this variant, or write a new line, in one
    ``INSERT ... ON CONFLICT (cart, variant) DO UPDATE`` (PostgreSQL and SQLite alike).

    Nothing is checked here: the caller reads the lines back and refuses (rolling this
    back with its transaction) a variant that does not exist, the foreign key being
    deferred to the commit, or a quantity the cart cannot hold. Why it is one statement,
    not a read of the variant and an ``INSERT``: ``bench/profile.md``, row "cart line
    upsert".
    """
    meta = CartItem._meta
    connection = connections[CartItem.objects.db]
    quote = connection.ops.quote_name
    column = {field.name: quote(field.column) for field in meta.concrete_fields}
    now = timezone.now()
    values = {"cart": cart.pk, "variant": variant_id, "quantity": quantity}
    values |= {"created_at": now, "updated_at": now}
    fields = {field.name: field for field in meta.concrete_fields}
    params = [fields[name].get_db_prep_save(value, connection) for name, value in values.items()]
    table = quote(meta.db_table)
    sql = (  # only names are formatted in; every value is a parameter
        f"INSERT INTO {table} ({', '.join(column[name] for name in values)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(values))}) "
        f"ON CONFLICT ({column['cart']}, {column['variant']}) DO UPDATE SET "
        f"{column['quantity']} = {table}.{column['quantity']} + EXCLUDED.{column['quantity']}, "
        f"{column['updated_at']} = EXCLUDED.{column['updated_at']}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@transaction.atomic
def cart_item_add(*, cart_id: Any, user: User | None, variant_id: int, quantity: int) -> CartDetail:
    """Add ``quantity`` of a variant, or increase its existing line by that much.

    The line is written first and the lines read back after (``_line_upsert``): a
    refusal raises, and the transaction takes the write back with it.
    """
    cart = cart_lock_open(cart_id=cart_id, user=user)
    if quantity < 1:
        raise ValidationError("quantity", "The quantity must be at least 1.")
    _line_upsert(cart=cart, variant_id=variant_id, quantity=quantity)
    items = list(cart_item_list(cart=cart))
    item = next((line for line in items if line.variant_id == variant_id), None)
    if item is None:  # the inner join to the variant found no such row
        raise ValidationError("variant_id", "No such variant.")
    if len(items) > settings.CART_MAX_LINES:  # only a new line can go past the limit
        raise ValidationError(
            "variant_id", f"A cart holds at most {settings.CART_MAX_LINES} different items."
        )
    available = int(getattr(item, "available", 0))
    _check_line(cart=cart, variant=item.variant, quantity=item.quantity, available=available)
    return cart_detail_build(cart=cart, items=items)


@transaction.atomic
def cart_item_update(*, cart_id: Any, user: User | None, item_id: int, quantity: int) -> CartDetail:
    """Set a line's quantity."""
    cart = cart_lock_open(cart_id=cart_id, user=user)
    items = list(cart_item_list(cart=cart))
    item = _find_item(items, item_id)
    available = int(getattr(item, "available", 0))
    _check_line(cart=cart, variant=item.variant, quantity=quantity, available=available)
    if item.quantity != quantity:
        item.quantity = quantity
        item.save(update_fields=["quantity", "updated_at"])
    return cart_detail_build(cart=cart, items=items)


@transaction.atomic
def cart_item_remove(*, cart_id: Any, user: User | None, item_id: int) -> CartDetail:
    """Remove a line."""
    cart = cart_lock_open(cart_id=cart_id, user=user)
    items = list(cart_item_list(cart=cart))
    item = _find_item(items, item_id)
    item.delete()
    return cart_detail_build(cart=cart, items=[line for line in items if line is not item])


def _merged_quantity(*, existing: int, added: int, available: int) -> int:
    """Summed, then capped at the per-line maximum and at what is available.

    A merge never lowers a line the user already had: it only adds to it.
    """
    capped = min(existing + added, _max_per_line(), max(0, available))
    return max(existing, capped)


@transaction.atomic
def cart_claim(*, cart_id: Any, user: User) -> CartDetail:
    """Give a guest cart to the signed-in user, merging it into their open cart if they have one.

    Without an open cart the guest cart simply becomes theirs. Otherwise its
    lines are merged (quantities summed, then capped; unavailable lines and
    lines beyond the line limit are dropped) and the guest cart is ``abandoned``.
    Claiming a cart that is already the user's changes nothing.
    """
    guest = cart_get(cart_id=cart_id, user=user, for_update=True)
    if guest.user_id == user.pk:
        return cart_detail_build(cart=guest, items=cart_item_list(cart=guest))
    _ensure_open(guest)
    target = cart_open_for_user(user=user, for_update=True)
    if target is None:
        guest.user = user
        try:
            with transaction.atomic():
                guest.save(update_fields=["user", "updated_at"])
        except IntegrityError as exc:
            raise InvalidStateError("Another cart was opened at the same time; retry.") from exc
        return cart_detail_build(cart=guest, items=cart_item_list(cart=guest))

    existing = {item.variant_id: item for item in cart_item_list(cart=target)}
    now = timezone.now()
    to_update: list[CartItem] = []
    to_create: list[CartItem] = []
    for line in cart_item_list(cart=guest):
        variant = line.variant
        sellable = (
            variant.is_active and variant.product.is_active and variant.currency == target.currency
        )
        available = int(getattr(line, "available", 0)) if sellable else 0
        mine = existing.get(line.variant_id)
        if mine is not None:
            merged = _merged_quantity(
                existing=mine.quantity, added=line.quantity, available=available
            )
            if merged != mine.quantity:
                mine.quantity = merged
                mine.updated_at = now
                to_update.append(mine)
            continue
        quantity = _merged_quantity(existing=0, added=line.quantity, available=available)
        if quantity >= 1 and len(existing) + len(to_create) < settings.CART_MAX_LINES:
            to_create.append(CartItem(cart=target, variant=variant, quantity=quantity))
    if to_update:
        CartItem.objects.bulk_update(to_update, ["quantity", "updated_at"])
    if to_create:
        CartItem.objects.bulk_create(to_create)
    guest.status = Cart.Status.ABANDONED
    guest.save(update_fields=["status", "updated_at"])
    _touch(target)
    return cart_detail_build(cart=target, items=cart_item_list(cart=target))


@transaction.atomic
def cart_voucher_apply(*, cart_id: Any, user: User | None, code: str) -> CartDetail:
    """Put a voucher on the cart if it applies to it now; else a 4xx and no change.

    A guest's once-per-customer use is checked at checkout (the e-mail is known then).
    """
    cart = cart_lock_open(cart_id=cart_id, user=user)
    voucher = voucher_by_code(code)
    if voucher is None or not voucher.is_active:
        raise VoucherError(details={"code": code})
    if (
        user is not None
        and voucher.once_per_customer
        and voucher_used_by(voucher=voucher, user=user, email="")
    ):
        raise voucher_used_up("You have already used this voucher.")
    cart.voucher = voucher
    detail = cart_detail_build(cart=cart, items=cart_item_list(cart=cart))
    if detail.priced.voucher_refusal is not None:
        raise VoucherError.from_refusal(detail.priced.voucher_refusal)
    cart.save(update_fields=["voucher", "updated_at"])
    return detail


@transaction.atomic
def cart_voucher_remove(*, cart_id: Any, user: User | None) -> CartDetail:
    """Take the voucher off the cart (a no-op if there is none)."""
    cart = cart_lock_open(cart_id=cart_id, user=user)
    if cart.voucher_id is not None:
        cart.voucher = None
        cart.save(update_fields=["voucher", "updated_at"])
    return cart_detail_build(cart=cart, items=cart_item_list(cart=cart))
