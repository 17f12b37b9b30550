"""Pricing refusals, each with a stable code (``docs/api.md`` lists them).

``voucher_invalid`` (no such active code), ``voucher_expired`` (outside its window),
``voucher_not_applicable`` (``details.missing``: ``min_subtotal`` or
``eligible_products``) are 400s; ``voucher_used_up`` (its usage limit, or this
customer's one use) and ``shipping_unavailable`` are 409s.
"""

from __future__ import annotations

from rest_framework import status

from apps.pricing.info import VoucherRefusal
from utils.errors import ApplicationError

VOUCHER_ERROR_CODES = [
    "voucher_invalid",
    "voucher_expired",
    "voucher_not_applicable",
    "voucher_used_up",
]


class ShippingUnavailableError(ApplicationError):
    code = "shipping_unavailable"
    status_code = status.HTTP_409_CONFLICT
    message = "This shipping method cannot ship this cart to this country."


class VoucherError(ApplicationError):
    code = "voucher_invalid"
    status_code = status.HTTP_400_BAD_REQUEST
    message = "This voucher code is not valid."

    @classmethod
    def from_refusal(cls, refusal: VoucherRefusal) -> VoucherError:
        return cls(
            refusal.message,
            code=refusal.code,
            status_code=(
                status.HTTP_409_CONFLICT
                if refusal.code == "voucher_used_up"
                else status.HTTP_400_BAD_REQUEST
            ),
            details=dict(refusal.details),
        )


def voucher_used_up(message: str = "This voucher has been used up.") -> VoucherError:
    return VoucherError(message, code="voucher_used_up", status_code=status.HTTP_409_CONFLICT)
