"""Request middleware that must run before any view reads the body."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.contrib.messages.storage.base import BaseStorage
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

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
            length = -1
        if length < 0:
            return json_error("bad_request", 400, "Content-Length is not a number.")
        if limit is not None and length > limit:
            response = json_error(
                "payload_too_large", 413, f"The request body may be at most {limit} bytes."
            )
            # Tell the client we will not read the rest, so the connection is not reused.
            response["Connection"] = "close"
            return response
        return self.get_response(request)


class NulCharacterMiddleware:
    """Refuse U+0000 in the path (404), the query string or a header (400), unread.

    PostgreSQL cannot compare text with NUL in it: a slug, task id or header value
    carrying one would reach a query and fail there as a 500. No route or parameter
    of the API can contain it, so it never gets that far. (Bodies: ``BoundedJSONParser``.)
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            return json_error("not_found", 404, "Not found.")
        if "\x00" in request.META.get("QUERY_STRING", "") or any(
            "\x00" in value for value in request.GET.values()
        ):
            return json_error("bad_request", 400, "The query string may not contain NUL.")
        if any(
            "\x00" in str(value)
            for key, value in request.META.items()
            if key.startswith("HTTP_") or key == "CONTENT_TYPE"
        ):
            return json_error("bad_request", 400, "Headers may not contain NUL.")
        return self.get_response(request)


class LazyMessageMiddleware(MessageMiddleware):
    """Django's flash messages, set up only for a request that uses them.

    The stock middleware builds the cookie and session storages on every request;
    only the admin reads or writes messages, never the API. Here the storage is
    built on first use, and a response whose request never touched it is left alone
    (``bench/profile.md``, row "lazy flash messages").
    """

    def process_request(self, request: HttpRequest) -> None:
        def build() -> BaseStorage:
            request.messages_used = True  # type: ignore[attr-defined]
            return default_storage(request)

        # Where Django's middleware puts the storage (the messages API reads it there).
        request._messages = SimpleLazyObject(build)  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not getattr(request, "messages_used", False):
            return response  # nothing read or added a message: no storage to update
        return super().process_response(request, response)
