"""Helpers every app's services share. What does not belong here: business rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models

from utils.errors import ValidationError

M = TypeVar("M", bound=models.Model)


def model_update(
    *, instance: M, fields: Iterable[str], data: Mapping[str, Any]
) -> tuple[M, list[str]]:
    """Set the ``fields`` that ``data`` names and changes, validate them, and say which.

    HackSoft's ``model_update``: only what changed is set and checked with
    ``full_clean`` (the other fields are excluded); the caller saves with the returned
    ``update_fields`` (``updated_at`` is added when the model has one and something
    changed). A value the model refuses is a 400 ``validation_error`` on that field.
    """
    changed = [
        field for field in fields if field in data and getattr(instance, field) != data[field]
    ]
    for field in changed:
        setattr(instance, field, data[field])
    if not changed:
        return instance, []
    others = [f.name for f in instance._meta.fields if f.name not in changed]
    try:
        instance.full_clean(exclude=others, validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ValidationError(field, messages) from exc
    if any(f.name == "updated_at" for f in instance._meta.fields):
        changed.append("updated_at")
    return instance, changed
