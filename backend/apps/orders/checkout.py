"""Checkout: one transaction turns an open cart into an order, or changes nothing.

Lock order (the project-wide one): cart, then stock rows in ascending variant id.
The stock rows are taken last, after the order rows are written, so that a
popular variant's row is held for as short a time as possible.
Every write is a bulk statement, so the number of queries does not grow with the
number of lines. The payment capture task is published after commit; the
``pending`` Payment row is the durable record of that work (the re-dispatch sweep
finds it if the publish is lost). What does not belong here: the order life cycle
after checkout (``apps.orders.services``) and payment capture (``apps.payments``).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from apps.accounts.models import User
from apps.cart.models import Cart, CartItem
from apps.cart.selectors import cart_get
from apps.cart.services import cart_lock_open
from apps.catalog.models import Stock, StockMovement
from apps.catalog.stock import stock_apply, stock_lock
from apps.orders.metrics import StockLockTimer
from apps.orders.models import Order, OrderEvent, OrderLine
from apps.orders.selectors import order_token_hash
from apps.orders.transitions import order_created_record
from apps.payments.models import Payment
from utils.decimal_utils import line_total, money_sum, parse_money
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
    shipping: Decimal
    payment_provider: str
    payment_token: str
    payment_return_url: str = ""


@dataclass(frozen=True)
class _Totals:
    subtotal: Decimal
    shipping: Decimal
    total: Decimal


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
    open), 409 ``cart_empty``, 409 ``out_of_stock`` (``details.variants``) or 400
    ``validation_error``; nothing changes then. The capture task is sent after commit.
    """
    checkout = _Checkout(
        cart_id=cart_id,
        buyer=user,
        email=_email_resolve(user=user, email=email),
        shipping_address=shipping_address,
        billing_address=billing_address,
        shipping_method=shipping_method,
        shipping=_shipping_price(shipping_method),
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
        totals = _totals(items, currency=cart.currency, shipping=checkout.shipping)
        order, access_token = _order_create(checkout, cart=cart, number=number, totals=totals)
        lines = OrderLine.objects.bulk_create([_line(order, item) for item in items])
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
        locked = stock_lock(variant_ids=[item.variant_id for item in items])
        stock_lock_timer.locked()  # held from here (waiting is not holding)
        _ensure_available(items, locked)
        stock_apply(
            changes={item.variant_id: -item.quantity for item in items},
            reason=StockMovement.Reason.SALE,
            order=order,
            actor=buyer,
            locked=locked,
        )
    return CheckoutResult(order=order, lines=lines, payment=payment, access_token=access_token)


def _order_create(
    checkout: _Checkout, *, cart: Cart, number: str, totals: _Totals
) -> tuple[Order, str | None]:
    """The order row; a guest's order also gets an access token (only its hash is kept)."""
    access_token = secrets.token_urlsafe(32) if checkout.buyer is None else None
    return Order.objects.create(
        number=number,
        user=checkout.buyer,
        cart=cart,
        email=checkout.email,
        currency=cart.currency,
        subtotal=totals.subtotal,
        shipping_total=totals.shipping,
        total=totals.total,
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


def _email_resolve(*, user: User | None, email: str | None) -> str:
    if email:
        return email
    if user is not None and user.email:
        return str(user.email)
    raise ValidationError("email", "This field is required for a guest checkout.")


def _shipping_price(method: str) -> Decimal:
    if method not in settings.SHIPPING_METHODS:
        raise ValidationError("shipping_method", f'"{method}" is not a valid choice.')
    return parse_money(settings.SHIPPING_METHODS[method])


def _refuse_closed_cart(checkout: _Checkout) -> None:
    """409 for a cart that is no longer open, naming the order it became (if any)."""
    cart = cart_get(cart_id=checkout.cart_id, user=checkout.buyer)
    if cart.status != Cart.Status.OPEN:
        order_id = Order.objects.filter(cart=cart).values_list("pk", flat=True).first()
        raise InvalidStateError(
            f"The cart is {cart.status} and cannot be checked out.",
            details={"status": cart.status, "order_id": str(order_id) if order_id else None},
        )


def _cart_items(cart: Cart) -> list[CartItem]:
    items = list(
        CartItem.objects.filter(cart=cart).select_related("variant__product").order_by("variant_id")
    )
    if not items:
        raise CartEmptyError()
    return items


def _ensure_available(items: list[CartItem], locked: dict[int, Stock]) -> None:
    """409 ``out_of_stock`` listing every short line: no stock, too little, or not on sale."""
    short = []
    for item in items:
        row = locked.get(item.variant_id)
        on_sale = item.variant.is_active and item.variant.product.is_active
        available = row.on_hand if row is not None and on_sale else 0
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


def _totals(items: list[CartItem], *, currency: str, shipping: Decimal) -> _Totals:
    currencies = {item.variant.currency for item in items} | {currency}
    if len(currencies) > 1:
        raise InvalidStateError(
            "The cart mixes currencies.", details={"currencies": sorted(currencies)}
        )
    subtotal = money_sum(line_total(item.variant.price, item.quantity) for item in items)
    total = money_sum([subtotal, shipping])
    if total <= 0:
        raise InvalidStateError("There is nothing to pay for.", details={"total": str(total)})
    return _Totals(subtotal=subtotal, shipping=shipping, total=total)


def _line(order: Order, item: CartItem) -> OrderLine:
    variant = item.variant
    return OrderLine(
        order=order,
        variant=variant,
        sku=variant.sku,
        product_name=variant.product.name,
        variant_name=variant.name,
        unit_price=variant.price,
        quantity=item.quantity,
        line_total=line_total(variant.price, item.quantity),
    )
