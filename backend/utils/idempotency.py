"""Idempotency-Key handling for unsafe API actions (the Stripe convention).

A client may send ``Idempotency-Key: <at most 255 characters>`` with a POST. The
first request with a key claims it by inserting an ``IdempotencyRecord``
(``in_progress``) in its own, immediately committed transaction, so a concurrent
duplicate sees the claim. When the view has answered, its status and body are
stored; a later request with the same owner and key gets them back with
``Idempotent-Replayed: true``.

- Same key, different request (method, path or body): 422 ``idempotency_conflict``.
- Same key while the first request is still running: 409 ``idempotency_in_progress``.
- A 5xx is not stored (the record is deleted) so the client can retry with the key;
  neither is a 400: the request was refused before it did anything, and the client
  may correct it and send it again with the same key.
- Keys are scoped to their owner (``user:<id>``, or ``cart:<uuid>`` for a guest), and
  expire after ``IDEMPOTENCY_KEY_TTL_HOURS``; ``idempotency_purge_expired`` deletes them.
- A claim left ``in_progress`` by a process that died is taken over after
  ``IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS`` (default 300).

Use ``@idempotent()`` on a ViewSet action, under ``@action``. The decorated view must
not run inside ``ATOMIC_REQUESTS`` (the claim has to commit before the work starts).
What does not belong here: the domain's own double-submit guards (e.g. a checked-out
cart refusing a second checkout), which hold with or without a key.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from apps.core.models import IdempotencyRecord
from utils.errors import ApplicationError, ValidationError
from utils.headers import IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_MAX_LENGTH

HEADER = IDEMPOTENCY_KEY
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = IDEMPOTENCY_KEY_MAX_LENGTH
_CLAIM_ATTEMPTS = 3

Action: TypeAlias = Callable[..., Response]
OwnerResolver: TypeAlias = Callable[[Request, Mapping[str, Any]], str]


class IdempotencyConflictError(ApplicationError):
    code = "idempotency_conflict"
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    message = "This Idempotency-Key was already used with a different request."


class IdempotencyInProgressError(ApplicationError):
    code = "idempotency_in_progress"
    status_code = status.HTTP_409_CONFLICT
    message = "A request with this Idempotency-Key is still being processed; retry shortly."


@dataclass(frozen=True)
class StoredResponse:
    """The answer already given to the first request with a key."""

    status: int
    body: Any


# --- Functional API -----------------------------------------------------------------


def request_fingerprint(*, method: str, path: str, body: Any) -> str:
    """sha256 of method, path and the body as canonical JSON (key order does not matter)."""
    canonical = json.dumps(
        body, cls=JSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(f"{method.upper()}\n{path}\n{canonical}".encode()).hexdigest()


def idempotency_key_validate(key: str) -> str:
    """The key itself, or a 400 ``validation_error`` if it is empty or too long."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationError(HEADER, f"Must be 1 to {MAX_KEY_LENGTH} characters long.")
    return key


def idempotency_begin(
    *, owner: str, key: str, fingerprint: str
) -> IdempotencyRecord | StoredResponse:
    """Claim ``key`` for ``owner`` (a new record) or return the stored answer.

    Raises ``IdempotencyConflictError`` (different request) or
    ``IdempotencyInProgressError`` (the first request is still running).
    """
    for _ in range(_CLAIM_ATTEMPTS):
        record = _claim(owner=owner, key=key, fingerprint=fingerprint)
        if record is not None:
            return record
        existing = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
        if existing is None:
            continue  # released (5xx) or purged since our insert failed: claim again
        if _is_abandoned(existing, now=timezone.now()):
            IdempotencyRecord.objects.filter(pk=existing.pk).delete()
            continue
        if existing.request_fingerprint != fingerprint:
            raise IdempotencyConflictError()
        if existing.status == IdempotencyRecord.Status.IN_PROGRESS:
            raise IdempotencyInProgressError(details={"retry_after": 1})
        return StoredResponse(
            status=int(existing.response_status or 200), body=existing.response_body
        )
    raise IdempotencyInProgressError(details={"retry_after": 1})


def idempotency_complete(*, record: IdempotencyRecord, status_code: int, body: Any) -> None:
    """Store the answer to replay it (a 5xx or 400 releases the key instead)."""
    if status_code >= 500 or status_code == status.HTTP_400_BAD_REQUEST:
        idempotency_release(record=record)
        return
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status=IdempotencyRecord.Status.COMPLETED,
        response_status=status_code,
        response_body=_jsonable(body),
        completed_at=timezone.now(),
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forget a claim so that the client can retry with the same key."""
    IdempotencyRecord.objects.filter(pk=record.pk).delete()


def idempotency_purge_expired(*, now: datetime | None = None) -> int:
    """Delete records older than ``IDEMPOTENCY_KEY_TTL_HOURS``; return how many."""
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=_expiry_cutoff(now or timezone.now())
    ).delete()
    return deleted


def _claim(*, owner: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
    def insert() -> IdempotencyRecord:
        return IdempotencyRecord.objects.create(
            owner=owner, key=key, request_fingerprint=fingerprint
        )

    try:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():  # a savepoint keeps the caller's transaction usable
                return insert()
        # Autocommit: the INSERT is its own transaction, committed before the work
        # starts, so a concurrent duplicate collides with it on (owner, key).
        return insert()
    except IntegrityError:
        return None


def _expiry_cutoff(now: datetime) -> datetime:
    return now - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def _is_abandoned(record: IdempotencyRecord, *, now: datetime) -> bool:
    """Expired, or still ``in_progress`` long after any request could have run."""
    if record.created_at < _expiry_cutoff(now):
        return True
    timeout = timedelta(seconds=settings.IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS)
    return record.status == IdempotencyRecord.Status.IN_PROGRESS and (
        record.created_at < now - timeout
    )


def _jsonable(body: Any) -> Any:
    """Plain JSON types, encoded as the API renders them (UUIDs, Decimals, dates)."""
    return json.loads(json.dumps(body, cls=JSONEncoder))


# --- DRF decorator ------------------------------------------------------------------


def owner_default(request: Request, view_kwargs: Mapping[str, Any], *, scope: str) -> str:
    """``user:<id>`` for a signed-in caller, else ``<scope>:<pk>`` (e.g. ``cart:<uuid>``)."""
    user = request.user
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    pk = view_kwargs.get("pk")
    if pk is None:
        raise RuntimeError("an anonymous idempotent action needs a detail route (pk)")
    return f"{scope}:{pk}"


def idempotent(
    *, anonymous_scope: str = "cart", owner: OwnerResolver | None = None
) -> Callable[[Action], Action]:
    """Honour ``Idempotency-Key`` on a ViewSet action; without the header it does nothing.

    ``owner`` overrides how the key's owner is derived (default: ``owner_default``).
    """

    def decorate(action: Action) -> Action:
        @functools.wraps(action)
        def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            raw_key = request.headers.get(HEADER)
            if raw_key is None:
                return action(view, request, *args, **kwargs)
            key = idempotency_key_validate(raw_key)
            owner_id = (
                owner(request, kwargs)
                if owner is not None
                else owner_default(request, kwargs, scope=anonymous_scope)
            )
            fingerprint = request_fingerprint(
                method=request.method or "", path=request.path, body=request.data
            )
            started = idempotency_begin(owner=owner_id, key=key, fingerprint=fingerprint)
            if isinstance(started, StoredResponse):
                return Response(
                    started.body, status=started.status, headers={REPLAYED_HEADER: "true"}
                )
            response = _run(view, action, started, request, args, kwargs)
            idempotency_complete(
                record=started, status_code=response.status_code, body=response.data
            )
            return response

        return wrapper

    return decorate


def _run(
    view: Any,
    action: Action,
    record: IdempotencyRecord,
    request: Request,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Response:
    """Run the action; an error becomes its error response so it can be stored too."""
    try:
        return action(view, request, *args, **kwargs)
    except Exception as exc:
        try:
            response: Response = view.handle_exception(exc)
        except BaseException:
            idempotency_release(record=record)
            raise
        return response
