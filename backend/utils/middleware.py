"""Request middleware: refusals made before any view reads the body, and the error shape
of every answer under ``/api/`` whoever produced it (Django itself included)."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.contrib.messages.storage.base import BaseStorage
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.common import CommonMiddleware
from django.utils.functional import SimpleLazyObject

from utils.errors import json_error

API_PREFIX = "/api/"
# The codes of utils.errors for the statuses Django itself can answer with.
_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "service_unavailable",
}
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


class ApiErrorShapeMiddleware:
    """Every error under ``/api/`` is JSON in the error shape, in every settings module.

    The exception handler shapes what DRF views answer; this covers what Django answers
    before or instead of a view: the ``DEBUG`` 404 and 500 pages, a refused host, a CSRF
    failure. A non-JSON error body under ``/api/`` is replaced by ``{"error", "details"}``
    for the same status. Anything outside ``/api/`` (admin, dashboard) is left alone.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 400 or not _is_api(request):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        status = response.status_code
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        code = _STATUS_CODES.get(status) or phrase.lower().replace(" ", "_").replace("-", "_")
        shaped = json_error(code, status, f"{phrase}.")
        if response.streaming:
            return shaped
        # The body is swapped in place: the headers others set (security, CORS, Allow,
        # WWW-Authenticate, Retry-After) stay as they are.
        response.content = shaped.content
        response["Content-Type"] = shaped["Content-Type"]
        response["Content-Length"] = str(len(shaped.content))
        return response


class ApiCommonMiddleware(CommonMiddleware):
    """Django's ``CommonMiddleware``, except for a write under ``/api/`` without its slash.

    ``APPEND_SLASH`` redirects ``GET /api/v1/products`` to ``/api/v1/products/``, which is
    fine. A redirect cannot carry a POST body (Django raises under ``DEBUG``, and a client
    following a 301 turns the POST into a GET), so a write to such a URL is a 404 that
    names the URL to use instead.
    """

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if (
            response.status_code == 404
            and request.method not in _SAFE_METHODS
            and _is_api(request)
            and self.should_redirect_with_slash(request)
        ):
            target = request.get_full_path(force_append_slash=True)
            refusal = json_error(
                "not_found",
                404,
                f"API URLs end with a slash: send this {request.method} to {target}",
            )
            refusal["Content-Length"] = str(len(refusal.content))
            return refusal
        return super().process_response(request, response)


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
            # No "Connection: close": WSGI forbids hop-by-hop headers (runserver turned the
            # answer into a 500 for it). The servers read and drop the unread body themselves
            # (runserver's handler drains it, gunicorn skips it before the next request).
            return json_error(
                "payload_too_large", 413, f"The request body may be at most {limit} bytes."
            )
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
