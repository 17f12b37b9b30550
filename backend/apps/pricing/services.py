"""Writes of pricing state at checkout: a voucher's use is taken, and given back.

``voucher_take`` is one ``UPDATE ... SET used_count = used_count + 1 WHERE id AND
active AND (no limit OR used_count < usage_limit) RETURNING *``: the row lock and the
limit check in one statement, so N concurrent checkouts of a voucher limited to N
uses serialise on its row and the N+1st finds nothing to update (409
``voucher_used_up``). Once per customer is a unique constraint on
(voucher, customer_key) in ``VoucherUsage``, so two concurrent checkouts of one
customer cannot both insert. Must run inside the checkout transaction; lock order
there: cart, voucher, stock rows.
"""

from __future__ import annotations

from django.db import connections
from django.db.models import F, Q

from apps.accounts.models import User
from apps.orders.models import Order
from apps.pricing.errors import VoucherError, voucher_used_up
from apps.pricing.models import Voucher, VoucherUsage


def voucher_customer_key(*, user: User | None, email: str) -> str:
    """Who "once per customer" means: the account, or the e-mail address of a guest."""
    return f"user:{user.pk}" if user is not None else f"email:{email.strip().lower()}"


def voucher_take(*, voucher_id: int) -> Voucher:
    """Count one more use of the voucher and return it locked (its ``used_count`` already
    includes this use). 400 ``voucher_invalid`` if it is gone or inactive, 409
    ``voucher_used_up`` at its limit."""
    rows = Voucher.objects.filter(
        Q(usage_limit__isnull=True) | Q(used_count__lt=F("usage_limit")),
        pk=voucher_id,
        is_active=True,
    )
    connection = connections[rows.db]
    where, params = rows.query.get_compiler(using=rows.db).compile(rows.query.where)
    quote = connection.ops.quote_name
    meta = Voucher._meta
    used = quote(meta.get_field("used_count").column)
    columns = ", ".join(quote(field.column) for field in meta.concrete_fields)
    sql = (  # only names and the ORM's WHERE are formatted in; every value is a parameter
        f"UPDATE {quote(meta.db_table)} SET {used} = {used} + 1 "  # noqa: S608
        f"WHERE {where} RETURNING {columns}"
    )
    found = list(Voucher.objects.raw(sql, list(params)))
    if found:
        return found[0]
    if Voucher.objects.filter(pk=voucher_id, is_active=True).exists():
        raise voucher_used_up()
    raise VoucherError()


def voucher_usage_record(
    *, voucher: Voucher, order: Order, user: User | None, email: str
) -> VoucherUsage:
    """The usage row; for a once-per-customer voucher its key is unique (a second use by
    the same customer raises ``IntegrityError``, which checkout turns into a 409)."""
    key = voucher_customer_key(user=user, email=email) if voucher.once_per_customer else None
    return VoucherUsage.objects.create(voucher=voucher, order=order, user=user, customer_key=key)


def voucher_used_by(*, voucher: Voucher, user: User | None, email: str) -> bool:
    key = voucher_customer_key(user=user, email=email)
    return VoucherUsage.objects.filter(voucher=voucher, customer_key=key).exists()


def voucher_release(*, order: Order) -> bool:
    """Give back the use an order took (its cancellation before payment); True if any."""
    usage = VoucherUsage.objects.filter(order=order).first()
    if usage is None:
        return False
    usage.delete()
    Voucher.objects.filter(pk=usage.voucher_id, used_count__gt=0).update(
        used_count=F("used_count") - 1
    )
    return True
