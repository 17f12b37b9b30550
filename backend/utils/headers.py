"""The request headers of the API's own contracts: their names, their OpenAPI
parameters and how a view reads them. Every view that takes one imports it from here.

- ``Idempotency-Key`` (checkout, pay, refund): see ``utils.idempotency``;
- ``X-Order-Token``: a guest order's access token, returned once by checkout.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

IDEMPOTENCY_KEY = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 255
ORDER_TOKEN = "X-Order-Token"

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_KEY,
    {"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
    OpenApiParameter.HEADER,
    required=False,
    description=(
        f"At most {IDEMPOTENCY_KEY_MAX_LENGTH} characters. A retry with the same key (same "
        "user, same guest cart or same guest order token) returns the first response again "
        "with `Idempotent-Replayed: true`; the same key with a different body is a 422 "
        "`idempotency_conflict`; a duplicate while the first is running is a 409 "
        "`idempotency_in_progress`. Keys are kept 24 h."
    ),
)

ORDER_TOKEN_PARAMETER = OpenApiParameter(
    ORDER_TOKEN,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="A guest order's `access_token`, returned once by checkout.",
)


def order_token(request: Request) -> str | None:
    """The ``X-Order-Token`` the caller presented, or None."""
    return request.headers.get(ORDER_TOKEN) or None
