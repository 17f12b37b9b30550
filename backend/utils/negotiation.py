"""Content negotiation: DRF's, except that who may call comes before what the answer
looks like.

DRF negotiates before it authenticates, so a caller without credentials asking for a
type the view cannot render got a 406 where the answer is a 401 (or 403). Here a
refused negotiation first runs the view's authentication and permission checks.
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class AuthFirstContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            view = (getattr(request, "parser_context", None) or {}).get("view")
            if view is not None:
                view.perform_authentication(request)  # raises 401 for bad credentials
                view.check_permissions(request)  # raises 401 / 403 before the 406
            raise
