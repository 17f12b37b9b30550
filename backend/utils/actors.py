"""Who is calling, decided once at the view: the signed-in ``User``, or ``None``.

Services and selectors take ``user: User | None`` / ``actor: User | None`` and never
see DRF's ``AnonymousUser``: a view passes ``request_actor(request)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

if TYPE_CHECKING:  # a type only: importing the model here would load it with utils
    from apps.accounts.models import User


def request_actor(request: Request) -> User | None:
    """The signed-in user of ``request``, or None for an anonymous caller."""
    user = request.user
    if user is None or not user.is_authenticated:
        return None
    return user


def request_user(request: Request) -> User:
    """The signed-in user of a view that requires one (``IsAuthenticated`` ran first)."""
    actor = request_actor(request)
    if actor is None:
        raise NotAuthenticated()
    return actor
