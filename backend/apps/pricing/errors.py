"""Pricing refusals, each with a stable code (``docs/api.md`` lists them).

``voucher_invalid`` (no such active code), ``voucher_expired`` (outside its window),
``voucher_not_applicable`` (``details.missing``: ``min_subtotal`` or
``eligible_products``) are 400s; ``voucher_used_up`` (its usage limit, or this
customer's one use) and ``shipping_unavailable`` are 409s.
"""

from __future__ import annotations

from rest_framework import status

from apps.pricing.info import VoucherRefusal
from utils.errors import ApplicationError, InvalidStateError

VOUCHER_ERROR_CODES = [
    "voucher_invalid",
    "voucher_expired",
    "voucher_not_applicable",
    "voucher_used_up",
]


class ShippingUnavailableError(InvalidStateError):
    code = "shipping_unavailable"
    message = "This shipping method cannot ship this cart to this country."


class VoucherError(ApplicationError):
    """400 ``voucher_invalid`` by default; ``from_refusal`` gives a refusal's own code."""

    code = "voucher_invalid"
    message = "This voucher code is not valid."

    @classmethod
    def from_refusal(cls, refusal: VoucherRefusal) -> VoucherError:
        refused = VoucherUsedUpError if refusal.code == "voucher_used_up" else cls
        return refused(refusal.message, code=refusal.code, details=dict(refusal.details))


class VoucherUsedUpError(VoucherError):
    """409 ``voucher_used_up``: its usage limit, or this customer's one use."""

    code = "voucher_used_up"
    status_code = status.HTTP_409_CONFLICT
    message = "This voucher has been used up."


# The name the services raise it by (``voucher_used_up("You have already used ...")``).
voucher_used_up = VoucherUsedUpError
