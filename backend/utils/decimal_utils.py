"""The only way money is parsed, quantized, validated and rendered.

Money is ``Decimal`` with two places. On the wire it is a string ("19.99")
beside an ISO 4217 currency. Floats are refused outright (binary fractions are
not cents), as are NaN, infinities, exponent notation and more than two places.

What does not belong here: currency conversion, tax rules, pricing; the serializer
field (``utils.serializers.MoneyField``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_DIGITS = 12
DECIMAL_PLACES = 2
MAX_AMOUNT = Decimal("9999999999.99")  # fits DecimalField(max_digits=12, decimal_places=2)

# Plain decimal notation only: optional sign, digits, optional 1-2 fraction digits.
_MONEY_RE = re.compile(r"^(?P<sign>[+-]?)(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]*))?$", re.ASCII)


class MoneyError(ValueError):
    """A value that is not acceptable as an amount of money."""


def parse_money(
    value: Any,
    *,
    allow_negative: bool = False,
    allow_zero: bool = True,
    max_amount: Decimal = MAX_AMOUNT,
) -> Decimal:
    """Parse a client- or config-supplied amount into a 2-place ``Decimal``.

    Accepts ``str`` in plain notation and ``Decimal`` (already exact). ``int`` is
    accepted only from trusted code (settings); JSON numbers are refused because
    a JSON number with a fraction arrives as a binary float.
    """
    if isinstance(value, (bool, float)):
        raise MoneyError('Send money as a string such as "12.50", not a number.')
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError("Money must be a finite number.")
        text = format(value, "f")
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise MoneyError('Send money as a string such as "12.50".')

    match = _MONEY_RE.match(text)
    if match is None:
        raise MoneyError(
            'Money must be written like "12.50": digits, an optional point, two decimals.'
        )
    frac = match.group("frac") or ""
    if len(frac.rstrip("0")) > DECIMAL_PLACES:
        raise MoneyError("Money has at most two decimal places.")
    try:
        amount = Decimal(text).quantize(CENT)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise MoneyError("Money must be a finite number.") from exc
    if amount < 0 and not allow_negative:
        raise MoneyError("Money may not be negative here.")
    if amount == 0 and not allow_zero:
        raise MoneyError("Money must be more than zero here.")
    if abs(amount) > max_amount:
        raise MoneyError(f"Money may not exceed {max_amount}.")
    if amount == 0:
        amount = ZERO  # never "-0.00"
    return amount


def quantize(value: Decimal) -> Decimal:
    """Round an exact intermediate result (e.g. price x quantity) to cents, half up."""
    if not isinstance(value, Decimal):
        raise MoneyError("quantize() takes a Decimal.")
    if not value.is_finite():
        raise MoneyError("Money must be a finite number.")
    result = value.quantize(CENT, rounding=ROUND_HALF_UP)
    return ZERO if result == 0 else result


def line_total(unit_price: Decimal, quantity: int) -> Decimal:
    """Unit price times an integer quantity, in cents."""
    return quantize(unit_price * quantity)


def money_sum(values: Iterable[Decimal]) -> Decimal:
    """Exact sum of already-quantized amounts."""
    total = ZERO
    for value in values:
        total += value
    return quantize(total)


def to_str(value: Decimal) -> str:
    """Render an amount for JSON: always two places, never exponent notation."""
    return format(quantize(value), "f")


def money_pattern(*, allow_negative: bool = False) -> str:
    """The OpenAPI ``pattern`` of money on the wire, in and out: what ``to_str`` writes
    (two places) and what ``parse_money`` reads in its plain form (one or two places)."""
    sign = "-?" if allow_negative else ""
    return rf"^{sign}[0-9]+(\.[0-9]{{1,2}})?$"


# ISO 4217 minor-unit exponents that are not 2 (every other currency has 2).
_ZERO_EXPONENT = ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG")
_ZERO_EXPONENT_MORE = ("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF")
_THREE_EXPONENT = ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")
CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys((*_ZERO_EXPONENT, *_ZERO_EXPONENT_MORE), 0),
    **dict.fromkeys(_THREE_EXPONENT, 3),
}


def currency_exponent(currency: str) -> int:
    """How many decimal places the currency's minor unit has (EUR 2, JPY 0, KWD 3)."""
    return CURRENCY_EXPONENTS.get(currency.upper(), 2)


def minor_units(amount: Decimal, currency: str) -> int:
    """An amount as an integer count of the currency's minor unit, rounded half up."""
    scaled = amount.scaleb(currency_exponent(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def same_amount(a: Decimal, b: Decimal, currency: str) -> bool:
    """Whether two amounts are the same money in ``currency`` (compared in minor units)."""
    return minor_units(a, currency) == minor_units(b, currency)
