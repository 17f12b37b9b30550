"""Page-number pagination with a hard maximum that is refused, not clamped.

``page`` and ``page_size`` are whole numbers written in plain ASCII digits;
anything else (``abc``, ``0``, ``-1``, ``1.5``, a size over the maximum) is a 400
``validation_error`` naming the parameter. A well-formed page past the last one
is a 404 ``not_found`` (DRF's convention), and both are in the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

MAX_PAGE = 999_999_999


def _whole_number(raw: str, *, name: str, maximum: int) -> int:
    """``raw`` as an int from 1 to ``maximum``, else a 400 naming the parameter."""
    # isdecimal() alone would let through other scripts' digits; int() would take "1_0" and " 1".
    if raw.isascii() and raw.isdecimal() and len(raw) <= len(str(maximum)):
        value = int(raw)
        if 1 <= value <= maximum:
            return value
    raise ValidationError({name: [f"Must be a whole number from 1 to {maximum}."]})


class StandardPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        return _whole_number(raw, name=self.page_size_query_param, maximum=self.max_page_size)

    def get_page_number(self, request: Request, paginator: Paginator) -> int:
        raw = request.query_params.get(self.page_query_param)
        if raw is None or raw == "":
            return 1
        if raw in self.last_page_strings:
            return int(paginator.num_pages)
        return _whole_number(raw, name=self.page_query_param, maximum=MAX_PAGE)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        bounds = {
            self.page_query_param: {"minimum": 1, "maximum": MAX_PAGE},
            self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size},
        }
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"] = {**parameter["schema"], **bounds.get(parameter["name"], {})}
        return parameters
