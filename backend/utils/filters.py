"""Filter backends shared by the list endpoints.

``StrictOrderingFilter``: DRF's ``OrderingFilter`` silently ignores an ordering it
does not know; this one refuses it (400 ``validation_error`` on ``ordering``), takes
one term, and publishes the allowed values as an enum in the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request


class StrictOrderingFilter(OrderingFilter):
    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        raw = request.query_params.get(self.ordering_param)
        if not raw:
            return self.get_default_ordering(view)
        valid = {
            name for name, _label in self.get_valid_fields(queryset, view, {"request": request})
        }
        term = raw.strip()
        if term.lstrip("-") not in valid:
            raise ValidationError(
                {self.ordering_param: [f"Order by one of: {', '.join(_choices(valid))}."]}
            )
        return [term]

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        fields = getattr(view, "ordering_fields", None)
        if isinstance(fields, (list, tuple)):
            for parameter in parameters:
                parameter["schema"] = {**parameter["schema"], "enum": _choices(set(fields))}
        return parameters


def _choices(fields: set[str]) -> list[str]:
    return [choice for name in sorted(fields) for choice in (name, f"-{name}")]
