"""Template filters of the ops dashboard: the same short formats its script uses."""

from __future__ import annotations

from datetime import datetime

from django import template

register = template.Library()


@register.filter
def when(value: object) -> str:
    """``2026-11-27T10:12:47.079541Z`` (as the API sends it) -> ``2026-11-27 10:12:47``."""
    if not value:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return text[:19].replace("T", " ")
