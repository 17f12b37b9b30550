"""Request middleware that must run before any view reads the body."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from utils.errors import json_error


class BodySizeLimitMiddleware:
    """Refuse a declared body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with 413, unread.

    A body without a length (chunked) is bounded by ``BoundedJSONParser`` instead.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return json_error("bad_request", 400, "Content-Length is not a number.")
        if limit is not None and length > limit:
            response = json_error(
                "payload_too_large", 413, f"The request body may be at most {limit} bytes."
            )
            # Tell the client we will not read the rest, so the connection is not reused.
            response["Connection"] = "close"
            return response
        return self.get_response(request)
