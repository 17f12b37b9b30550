"""Content negotiation with a fast path for the answer it nearly always gives.

The API renders JSON only. DRF's ``DefaultContentNegotiation`` parses and orders
the ``Accept`` header on every request to find that out; here the common cases
(no ``Accept``, ``*/*``, ``application/json``, no ``?format=``) pick the JSON
renderer at once, and anything else goes through DRF's rules unchanged (so an
``Accept: text/html`` is still a 406).

DRF negotiates before it authenticates, so a caller without credentials asking for
a type the view cannot render got a 406 where the answer is a 401 (or 403). Here a
refused negotiation first runs the view's authentication and permission checks:
who may call comes before what the answer looks like.
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

_PLAIN_ACCEPT = {"", "*/*", "application/json"}


class JSONFirstContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        if (
            len(renderers) == 1
            and not format_suffix
            and request.META.get("HTTP_ACCEPT", "").strip() in _PLAIN_ACCEPT
            and self.settings.URL_FORMAT_OVERRIDE not in request.GET
        ):
            renderer = renderers[0]
            return renderer, str(renderer.media_type)
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            view = (getattr(request, "parser_context", None) or {}).get("view")
            if view is not None:
                view.perform_authentication(request)  # raises 401 for bad credentials
                view.check_permissions(request)  # raises 401 / 403 before the 406
            raise
