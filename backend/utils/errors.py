"""Application errors and the one exception handler that shapes every error body.

Every non-2xx response is ``{"error": "<stable_snake_case_code>", "details": {...}}``.
Services raise ``ApplicationError`` (or a subclass); views never catch them.
What does not belong here: domain-specific exception families (they live in
their app and subclass ``ApplicationError``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A refusal the client can act on, with a stable code."""

    code: str = "invalid_request"
    status_code: int = status.HTTP_400_BAD_REQUEST
    message: str = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.details: dict[str, Any] = details or {}
        super().__init__(self.message)


class ValidationError(ApplicationError):
    """400 ``validation_error`` naming one field: ``details = {field: [message, ...]}``.

    The shape DRF gives a serializer's field errors, so a client reads a service's
    refusal the same way as an input serializer's. ``extra`` adds figures beside the
    field (a refund's ``refundable``, for instance).
    """

    code = "validation_error"
    status_code = status.HTTP_400_BAD_REQUEST
    message = "Invalid input."

    def __init__(
        self, field: str, message: str | Sequence[str], *, extra: dict[str, Any] | None = None
    ) -> None:
        messages = [message] if isinstance(message, str) else [str(m) for m in message]
        super().__init__(details={field: messages, **(extra or {})})
        self.field = field


class AuthenticationError(ApplicationError):
    """401 ``authentication_failed``: a credential or token that is wrong or expired."""

    code = "authentication_failed"
    status_code = status.HTTP_401_UNAUTHORIZED
    message = "The token is invalid or expired."


class NotFoundError(ApplicationError):
    code = "not_found"
    status_code = status.HTTP_404_NOT_FOUND
    message = "Not found."


class InvalidStateError(ApplicationError):
    code = "invalid_state"
    status_code = status.HTTP_409_CONFLICT
    message = "The object is not in a state that allows this."

    @classmethod
    def transition(
        cls, subject: str, from_status: str, to_status: str, allowed: Iterable[str]
    ) -> InvalidStateError:
        """A move a status table does not allow (``subject``: "An order"): ``details`` name
        the ``status``, the ``requested`` one and the ``allowed`` moves from it."""
        return cls(
            f"{subject} that is {from_status} cannot become {to_status}.",
            details={"status": from_status, "requested": to_status, "allowed": sorted(allowed)},
        )


class OutOfStockError(ApplicationError):
    code = "out_of_stock"
    status_code = status.HTTP_409_CONFLICT
    message = "Not enough stock."


class InsufficientStockError(ApplicationError):
    """A fulfilment's warehouse cannot cover the units it has to take over from another
    warehouse (``details.variants`` says what is short where)."""

    code = "insufficient_stock"
    status_code = status.HTTP_409_CONFLICT
    message = "The warehouse does not have the stock for this fulfilment."


# The stable ``details.reason`` of an ``invalid_signature`` refusal (docs/api.md).
SIGNATURE_REASONS = (
    "secret_not_configured",
    "missing_header",
    "malformed_header",
    "signature_mismatch",
    "timestamp_out_of_tolerance",
)


class InvalidSignatureError(ApplicationError):
    """A webhook whose signature is missing, malformed, wrong or outside the time window.

    ``details.reason`` is one of ``SIGNATURE_REASONS``, never a library's free text.
    """

    code = "invalid_signature"
    status_code = status.HTTP_400_BAD_REQUEST
    message = "The webhook signature is missing or invalid."

    def __init__(self, *, reason: str) -> None:
        if reason not in SIGNATURE_REASONS:
            raise ValueError(f"undocumented signature refusal reason {reason!r}")
        super().__init__(details={"reason": reason})
        self.reason = reason


class PayloadTooLargeError(ApplicationError):
    code = "payload_too_large"
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    message = "The request body is too large."


_DRF_CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.ValidationError, "validation_error"),
    (exceptions.ParseError, "parse_error"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
]


def error_body(code: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": code, "details": details or {}}


def _drf_details(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            return dict(detail)
        return {"non_field_errors": detail}
    if isinstance(exc, exceptions.Throttled):
        wait = getattr(exc, "wait", None) or 0
        return {"message": str(exc.detail), "retry_after": max(1, int(wait))}
    return {"message": str(exc.detail)}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: map every exception to the error shape."""
    # Imported here: rest_framework.views loads the parser settings, which import this module.
    from rest_framework.views import set_rollback

    headers: dict[str, str] = {}

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLargeError()

    if isinstance(exc, ApplicationError):
        set_rollback()
        details = {"message": exc.message, **exc.details}
        return Response(error_body(exc.code, details), status=exc.status_code)

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), None)
        if code is None:
            code = exc.default_code if isinstance(exc.default_code, str) else "error"
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = str(auth_header)
        wait = getattr(exc, "wait", None)
        if wait:
            headers["Retry-After"] = str(max(1, int(wait)))
        return Response(_error_data(code, exc), status=exc.status_code, headers=headers)

    if isinstance(exc, (OperationalError, InterfaceError)):
        # A dependency failed (connection dropped, database down): nothing was
        # committed; the client may retry the same request (with its Idempotency-Key).
        set_rollback()
        logger.warning("database unavailable: %s", exc)
        return Response(
            error_body(
                "service_unavailable",
                {"message": "The database is unavailable. Nothing was changed; retry later."},
            ),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "1"},
        )

    # Anything else is a bug: roll back, log with the trace, answer without a traceback.
    set_rollback()
    view = context.get("view")
    logger.exception("Unhandled error in %s", type(view).__name__ if view else "view")
    return Response(
        error_body("server_error", {"message": "An unexpected error occurred."}),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _error_data(code: str, exc: exceptions.APIException) -> dict[str, Any]:
    return error_body(code, _drf_details(exc))


# --- Django-level handlers (URLs outside DRF views) ------------------------------------


def json_error(code: str, status_code: int, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, {"message": message}), status=status_code)


def require_get(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Django's ``require_GET`` (GET and HEAD), answering another method in the error shape
    (405 ``method_not_allowed`` with an ``Allow`` header) instead of an empty body."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            response = json_error(
                "method_not_allowed", 405, f'Method "{request.method}" not allowed.'
            )
            response["Allow"] = "GET, HEAD"
            return response
        return view(request, *args, **kwargs)

    return wrapper


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error("bad_request", 400, "Bad request.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error("permission_denied", 403, "You do not have permission to do this.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error("not_found", 404, "Not found.")


def handler500(request: HttpRequest) -> JsonResponse:
    return json_error("server_error", 500, "An unexpected error occurred.")
