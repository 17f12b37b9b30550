"""The cart answer as plain dicts: what ``CartOutputSerializer`` writes, without DRF's
per-field machinery (``bench/profile.md``, row "cart and order answers built by hand").

Every cart verb (open, read, add, set, remove, voucher, claim) answers with
``cart_output(detail)``, from the ``CartDetail`` the selector or service already built: no
query. The serializers in ``serializers.py`` stay the OpenAPI description of this answer;
``test_output.py`` renders both for a range of carts and checks they are the same bytes,
so a field added to one and not the other fails there.

What does not belong here: computing anything (totals are ``selectors.cart_detail_build``'s,
prices ``apps.pricing``'s); input shapes.
"""

from __future__ import annotations

from typing import Any

from apps.cart.selectors import CartDetail, CartLine
from apps.pricing.info import PricedCart
from utils.decimal_utils import to_str
from utils.serializers import datetime_output, rate_output


def cart_output(detail: CartDetail) -> dict[str, Any]:
    """``CartOutputSerializer(detail).data``: the same keys, order and values."""
    cart = detail.cart
    priced = detail.priced
    return {
        "id": str(detail.id),
        "status": str(cart.status),
        "currency": str(cart.currency),
        "items": [_line(line) for line in detail.lines],
        "subtotal": to_str(detail.subtotal),
        "summary": _summary(priced),
        "voucher": _voucher(priced),
        "item_count": int(detail.item_count),
        "created_at": datetime_output(cart.created_at),
        "updated_at": datetime_output(cart.updated_at),
    }


def _line(line: CartLine) -> dict[str, Any]:
    return {
        "id": int(line.id),
        "variant_id": int(line.variant_id),
        "sku": str(line.sku),
        "product_name": str(line.product_name),
        "product_slug": str(line.product_slug),
        "variant_name": str(line.variant_name),
        "quantity": int(line.quantity),
        "unit_price": to_str(line.unit_price),
        "undiscounted_unit_price": to_str(line.undiscounted_unit_price),
        "discount": to_str(line.discount),
        "tax_rate": rate_output(line.tax_rate),
        "tax": to_str(line.tax),
        "line_total": to_str(line.line_total),
        "currency": str(line.currency),
        "available": int(line.available),
        "warnings": [str(warning) for warning in line.warnings],
    }


def _summary(priced: PricedCart) -> dict[str, Any]:
    shipping = priced.shipping
    return {
        "subtotal": to_str(priced.subtotal),
        "discount": to_str(priced.discount),
        "shipping": to_str(priced.shipping_total),
        "tax": to_str(priced.tax),
        "total": to_str(priced.total),
        "currency": str(priced.currency),
        "prices_include_tax": bool(priced.prices_include_tax),
        "tax_country": str(priced.country),
        "tax_estimated": bool(priced.country_is_estimate),
        "shipping_method": None if shipping is None else str(shipping.method_code),
    }


def _voucher(priced: PricedCart) -> dict[str, Any] | None:
    if priced.voucher_code is None:
        return None
    refusal = priced.voucher_refusal
    problem = None
    if refusal is not None:
        problem = {
            "error": str(refusal.code),
            "message": str(refusal.message),
            "details": {str(key): value for key, value in refusal.details.items()},
        }
    return {"code": str(priced.voucher_code), "applied": refusal is None, "problem": problem}
