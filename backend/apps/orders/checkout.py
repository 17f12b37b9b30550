"""Checkout: one transaction turns an open cart into an order, or changes nothing.

Lock order (the project-wide one): cart, the cart's voucher (its use taken), then stock
rows in ascending variant id. The stock rows are taken last, after the order rows are
written, so that a popular variant's row is held for as short a time as possible.
Prices, discounts, shipping and tax come from ``apps.pricing.calculate.price_cart``,
the function the cart GET shows its totals with; the order keeps its result.
Every write is a bulk statement, so the number of queries does not grow with the
number of lines. The payment capture task is published after commit; the
``pending`` Payment row is the durable record of that work (the re-dispatch sweep
finds it if the publish is lost). What does not belong here: the order life cycle
after checkout (``apps.orders.services``) and payment capture (``apps.payments``).
"""

from __future__ import annotations

import functools
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import status

from apps.accounts.models import User
from apps.cart.models import Cart, CartItem
from apps.cart.selectors import LINE_COLUMNS, cart_get, cart_info_build
from apps.cart.services import cart_lock_open
from apps.catalog.models import Stock, StockMovement
from apps.catalog.stock import stock_allocate, stock_apply, stock_lock, stock_sellable
from apps.orders.metrics import StockLockTimer
from apps.orders.models import Allocation, Order, OrderEvent, OrderLine
from apps.orders.selectors import order_token_hash
from apps.orders.transitions import order_created_record
from apps.payments.models import Payment
from apps.pricing.calculate import price_cart
from apps.pricing.errors import ShippingUnavailableError, VoucherError, voucher_used_up
from apps.pricing.info import PricedCart, PricedLine
from apps.pricing.models import Voucher
from apps.pricing.selectors import shipping_method_for, voucher_info
from apps.pricing.services import voucher_take, voucher_usage_record
from utils.errors import ApplicationError, InvalidStateError, OutOfStockError, ValidationError
from workers.enqueue import enqueue_on_commit

# Crockford's base32 without the look-alikes I, L, O, U: easy to read out on the phone.
_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_NUMBER_RANDOM_CHARS = 8
_NUMBER_ATTEMPTS = 3


class CartEmptyError(ApplicationError):
    code = "cart_empty"
    status_code = status.HTTP_409_CONFLICT
    message = "The cart has no items to check out."


@dataclass(frozen=True)
class CheckoutResult:
    """The new order, the lines and payment just written with it (what the answer shows,
    without reading them back) and, for a guest, its access token."""

    order: Order
    lines: list[OrderLine]
    payment: Payment
    access_token: str | None


@dataclass(frozen=True)
class _Checkout:
    """What the buyer asked for, validated before the transaction starts."""

    cart_id: uuid.UUID | str
    buyer: User | None  # None for a guest
    email: str
    shipping_address: dict[str, Any]
    billing_address: dict[str, Any] | None
    shipping_method: str
    payment_provider: str
    payment_token: str
    payment_return_url: str = ""

    @property
    def country(self) -> str:
        return str(self.shipping_address["country"])


def order_number_new() -> str:
    """A human-friendly order number such as ``261127-7K3M9Q2X`` (date + 8 random)."""
    suffix = "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(_NUMBER_RANDOM_CHARS))
    return f"{timezone.now():%y%m%d}-{suffix}"


def order_checkout(
    *,
    cart_id: uuid.UUID | str,
    user: User | None,
    email: str | None,
    shipping_address: dict[str, Any],
    billing_address: dict[str, Any] | None,
    shipping_method: str,
    payment_provider: str,
    payment_token: str,
    payment_return_url: str = "",
) -> CheckoutResult:
    """Check out the cart: stock taken, order + lines + pending payment created, cart closed.

    Refuses with 404 (cart not reachable by this caller), 409 ``invalid_state`` (cart not
    open), 409 ``cart_empty``, 409 ``out_of_stock`` (``details.variants``), 409
    ``shipping_unavailable``, a voucher's refusal (``voucher_*``) or 400
    ``validation_error``; nothing changes then. The capture task is sent after commit.
    """
    unverified = user is not None and not user.email_verified_at
    if unverified and settings.CHECKOUT_REQUIRES_VERIFIED_EMAIL:
        raise EmailNotVerifiedError()
    checkout = _Checkout(
        cart_id=cart_id,
        buyer=user,
        email=_email_resolve(user=user, email=email),
        shipping_address=shipping_address,
        billing_address=billing_address,
        shipping_method=shipping_method,
        payment_provider=payment_provider,
        payment_token=payment_token,
        payment_return_url=payment_return_url,
    )
    for attempt in range(1, _NUMBER_ATTEMPTS + 1):
        number = order_number_new()
        try:
            return _place(checkout, number=number)
        except IntegrityError:
            # Only a clash of the random number is worth another try (rare by design).
            if attempt == _NUMBER_ATTEMPTS or not Order.objects.filter(number=number).exists():
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _place(checkout: _Checkout, *, number: str) -> CheckoutResult:
    buyer = checkout.buyer
    with transaction.atomic(), StockLockTimer() as stock_lock_timer:
        try:
            # Locked and already marked checked out: rolled back if anything below refuses.
            cart = cart_lock_open(
                cart_id=checkout.cart_id, user=buyer, status=Cart.Status.CHECKED_OUT
            )
        except InvalidStateError:
            _refuse_closed_cart(checkout)
            raise
        items = _cart_items(cart)
        _ensure_one_currency(items, currency=cart.currency)
        priced, voucher = _price(checkout, cart=cart, items=items)
        order, access_token = _order_create(checkout, cart=cart, number=number, priced=priced)
        lines = OrderLine.objects.bulk_create(
            [_line(order, item, line) for item, line in zip(items, priced.lines, strict=True)]
        )
        if voucher is not None:
            _voucher_use(checkout, voucher=voucher, order=order)
        order_created_record(order=order, actor=buyer, actor_kind=OrderEvent.ActorKind.CUSTOMER)
        payment = _payment_create(
            order=order,
            provider=checkout.payment_provider,
            token=checkout.payment_token,
            return_url=checkout.payment_return_url,
        )
        # The stock rows are the contended ones (every buyer of a popular variant needs
        # its row): they are locked last, so each is held only for the check, the
        # decrement, the ledger insert and the commit. Short stock rolls back all above.
        # Every row of these variants, in (variant id, warehouse id) order; each line
        # takes from active warehouses by priority and may be split over several.
        locked = stock_lock(variant_ids=[item.variant_id for item in items])
        stock_lock_timer.locked()  # held from here (waiting is not holding)
        _ensure_available(items, locked)
        plan = stock_allocate(
            wanted={item.variant_id: item.quantity for item in items}, locked=locked
        )
        stock_apply(
            changes={
                (variant_id, warehouse_id): -quantity
                for variant_id, parts in plan.items()
                for warehouse_id, quantity in parts
            },
            reason=StockMovement.Reason.SALE,
            order=order,
            actor=buyer,
            locked=locked,
        )
        Allocation.objects.bulk_create(
            [
                Allocation(line=line, warehouse_id=warehouse_id, quantity=quantity)
                for line in lines
                if line.variant_id is not None
                for warehouse_id, quantity in plan[line.variant_id]
            ]
        )
    return CheckoutResult(order=order, lines=lines, payment=payment, access_token=access_token)


def _price(
    checkout: _Checkout, *, cart: Cart, items: list[CartItem]
) -> tuple[PricedCart, Voucher | None]:
    """The cart priced by ``price_cart`` for the shipping address, as the cart showed it:
    the voucher's use taken (a query, with a voucher), and the promotions, tax rates and
    shipping methods (a query each only where this process's copy is out of date:
    ``apps.pricing.reference``)."""
    now = timezone.now()
    info = cart_info_build(cart=cart, items=items, country=checkout.country, now=now)
    method = shipping_method_for(country=checkout.country, code=checkout.shipping_method)
    if method is None:
        raise ShippingUnavailableError(
            details={"shipping_method": checkout.shipping_method, "country": checkout.country}
        )
    voucher = voucher_take(voucher_id=cart.voucher_id) if cart.voucher_id is not None else None
    voucher_data = None
    if voucher is not None:  # its used_count already counts this checkout
        voucher_data = replace(voucher_info(voucher), used_count=voucher.used_count - 1)
    priced = price_cart(info, method=method, voucher=voucher_data, now=now)
    if priced.voucher_refusal is not None:
        raise VoucherError.from_refusal(priced.voucher_refusal)
    if priced.total <= 0:
        raise InvalidStateError(
            "There is nothing to pay for.", details={"total": str(priced.total)}
        )
    return priced, voucher


def _voucher_use(checkout: _Checkout, *, voucher: Voucher, order: Order) -> None:
    try:
        voucher_usage_record(
            voucher=voucher, order=order, user=checkout.buyer, email=checkout.email
        )
    except IntegrityError as exc:
        # The unique (voucher, customer) key: this customer's one use is taken (perhaps
        # by a checkout that committed while this one waited for the voucher's row).
        # Raised on, the whole checkout rolls back.
        raise voucher_used_up("You have already used this voucher.") from exc


def _order_create(
    checkout: _Checkout, *, cart: Cart, number: str, priced: PricedCart
) -> tuple[Order, str | None]:
    """The order row; a guest's order also gets an access token (only its hash is kept)."""
    access_token = secrets.token_urlsafe(32) if checkout.buyer is None else None
    return Order.objects.create(
        number=number,
        user=checkout.buyer,
        cart=cart,
        email=checkout.email,
        currency=cart.currency,
        subtotal=priced.subtotal,
        discount_total=priced.discount,
        shipping_total=priced.shipping_total,
        shipping_tax=priced.shipping.tax if priced.shipping else Decimal("0.00"),
        tax_total=priced.tax,
        total=priced.total,
        prices_include_tax=priced.prices_include_tax,
        voucher_code=priced.voucher_code or "",
        discounts=[
            {"kind": d.kind, "code": d.code, "name": d.name, "amount": str(d.amount)}
            for d in priced.discounts
        ],
        shipping_method=checkout.shipping_method,
        shipping_address=checkout.shipping_address,
        billing_address=checkout.billing_address,
        access_token_hash=order_token_hash(access_token) if access_token else "",
        payment_deadline=timezone.now() + timedelta(minutes=settings.PAYMENT_DEADLINE_MINUTES),
    ), access_token


def _payment_create(*, order: Order, provider: str, token: str, return_url: str) -> Payment:
    """The pending payment (the durable record of the capture work) and its task."""
    payment = Payment.objects.create(
        order=order,
        provider=provider,
        payment_method=token,
        amount=order.total,
        currency=order.currency,
        return_url=return_url,
    )
    # Imported here: apps.payments imports apps.orders at module level, so orders reaches
    # payments only from inside a function (orders does use payments: capture, refunds).
    from apps.payments.tasks import payment_capture_task

    enqueue_on_commit(payment_capture_task, str(payment.id))
    return payment


class EmailNotVerifiedError(ApplicationError):
    """403: this shop wants a verified address to check out (CHECKOUT_REQUIRES_VERIFIED_EMAIL)."""

    code = "email_not_verified"
    status_code = status.HTTP_403_FORBIDDEN
    message = "Verify your email address before checking out."


def _email_resolve(*, user: User | None, email: str | None) -> str:
    if email:
        return email
    if user is not None and user.email:
        return str(user.email)
    raise ValidationError("email", "This field is required for a guest checkout.")


def _refuse_closed_cart(checkout: _Checkout) -> None:
    """409 for a cart that is no longer open, naming the order it became (if any)."""
    cart = cart_get(cart_id=checkout.cart_id, user=checkout.buyer)
    if cart.status != Cart.Status.OPEN:
        order_id = Order.objects.filter(cart=cart).values_list("pk", flat=True).first()
        raise InvalidStateError(
            f"The cart is {cart.status} and cannot be checked out.",
            details={"status": cart.status, "order_id": str(order_id) if order_id else None},
        )


@functools.cache
def _lines_query() -> QuerySet[CartItem]:
    """Checkout's lines query without its cart (only the columns checkout reads), built
    once per process; each checkout clones it with its cart (``bench/profile.md``, row
    "lines queries built once")."""
    return (
        CartItem.objects.select_related("variant__product__tax_class")
        .only(*LINE_COLUMNS)
        .order_by("variant_id")
    )


def _cart_items(cart: Cart) -> list[CartItem]:
    items = list(_lines_query().filter(cart=cart))
    if not items:
        raise CartEmptyError()
    return items


def _ensure_available(items: list[CartItem], locked: dict[tuple[int, int], Stock]) -> None:
    """409 ``out_of_stock`` listing every short line: no stock in active warehouses, too
    little, or not on sale."""
    sellable = stock_sellable(locked=locked)
    short = []
    for item in items:
        on_sale = item.variant.is_active and item.variant.product.is_active
        available = sellable.get(item.variant_id, 0) if on_sale else 0
        if item.quantity > available:
            short.append(
                {
                    "variant_id": item.variant_id,
                    "sku": item.variant.sku,
                    "requested": item.quantity,
                    "available": available,
                }
            )
    if short:
        raise OutOfStockError("Not enough stock for some items.", details={"variants": short})


def _ensure_one_currency(items: list[CartItem], *, currency: str) -> None:
    currencies = {item.variant.currency for item in items} | {currency}
    if len(currencies) > 1:
        raise InvalidStateError(
            "The cart mixes currencies.", details={"currencies": sorted(currencies)}
        )


def _line(order: Order, item: CartItem, priced: PricedLine) -> OrderLine:
    variant = item.variant
    return OrderLine(
        order=order,
        variant=variant,
        sku=variant.sku,
        product_name=variant.product.name,
        variant_name=variant.name,
        unit_price=priced.unit_price,
        undiscounted_unit_price=priced.undiscounted_unit_price,
        quantity=item.quantity,
        discount=priced.discount,
        net=priced.net,
        tax_rate=priced.tax_rate,
        tax=priced.tax,
        line_total=priced.gross,
    )
