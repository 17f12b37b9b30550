"""The refusals of returns, each with its stable code (see docs/api.md, "Returns")."""

from __future__ import annotations

from typing import Any

from rest_framework import status

from utils.errors import ApplicationError


class ReturnLinesInvalidError(ApplicationError):
    """400 ``validation_error`` with ``details.lines``: the field errors of each refused
    line by its index in the list sent (``{"1": {"quantity": [...]}}``), the shape DRF
    gives a list of objects, so the serializer's refusals and these read alike."""

    code = "validation_error"
    status_code = status.HTTP_400_BAD_REQUEST
    message = "Some lines cannot be returned."

    def __init__(self, lines: list[dict[str, list[str]]], **extra: Any) -> None:
        refused = {str(index): errors for index, errors in enumerate(lines) if errors}
        super().__init__(details={"lines": refused, **extra})


class ReturnWindowClosedError(ApplicationError):
    """409 ``return_window_closed``: ``details.lines`` names each line whose last parcel
    shipped more than ``RETURN_WINDOW_DAYS`` ago, with when its window closed."""

    code = "return_window_closed"
    status_code = status.HTTP_409_CONFLICT
    message = "The return window of some lines has closed."
