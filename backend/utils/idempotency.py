"""Idempotency-Key handling for unsafe API actions (the Stripe convention).

A client may send ``Idempotency-Key: <at most 255 characters>`` with a POST. The
request claims the key by inserting an ``IdempotencyRecord`` in the same
transaction as the work it guards, and stores its answer there too before that
transaction commits: an answer is stored if and only if the work committed. A later
request with the same owner and key gets the stored answer back with
``Idempotent-Replayed: true``.

- Same key, different request (method, path or body): 422 ``idempotency_conflict``.
- Same key while the first request is still running: 409 ``idempotency_in_progress``
  (on PostgreSQL the claim takes a transaction-level advisory lock on the key in the
  same statement; on SQLite transactions are serialised, so the duplicate waits for
  the first to finish and gets its answer).
- Work that did not commit (a 5xx, a 400, a dropped connection, a killed process)
  leaves nothing behind: the key is free to retry at once.
- Keys are scoped to their owner (``user:<id>``, or ``cart:<uuid>`` for a guest), and
  expire after ``IDEMPOTENCY_KEY_TTL_HOURS``; ``idempotency_purge_expired`` deletes them.
- Stored answers are sealed (``utils.sealed``): a checkout's answer carries the
  guest's order token, which must not sit readable in the database.
- A claim left ``in_progress`` (by the functional API below, or an older release)
  is taken over after ``IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS`` (default 300).

Use ``@idempotent()`` on a ViewSet action, under ``@action``. What does not belong
here: the domain's own double-submit guards (e.g. a checked-out cart refusing a
second checkout), which hold with or without a key.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
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
from utils.sealed import UnsealError, is_sealed, seal, unseal

logger = logging.getLogger(__name__)

HEADER = IDEMPOTENCY_KEY
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = IDEMPOTENCY_KEY_MAX_LENGTH
_CLAIM_ATTEMPTS = 3
_SEAL_PURPOSE = "idempotency.response"
_ADVISORY_CLASS = 0x1DE4  # the first key of pg_try_advisory_xact_lock(int, int): ours

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
    """Claim ``key`` for ``owner`` (a new, committed ``in_progress`` record) or return the
    stored answer. The decorator does not use this: it claims inside the work's own
    transaction (``idempotent``).

    Raises ``IdempotencyConflictError`` (different request) or
    ``IdempotencyInProgressError`` (the first request is still running).
    """
    for _ in range(_CLAIM_ATTEMPTS):
        record = _claim(owner=owner, key=key, fingerprint=fingerprint)
        if record is not None:
            return record
        stored = _existing_answer(owner=owner, key=key, fingerprint=fingerprint)
        if stored is not None:
            return stored
    raise IdempotencyInProgressError(details={"retry_after": 1})


def idempotency_complete(*, record: IdempotencyRecord, status_code: int, body: Any) -> None:
    """Store the answer to replay it (a 5xx or 400 releases the key instead)."""
    if not _stores(status_code):
        idempotency_release(record=record)
        return
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status=IdempotencyRecord.Status.COMPLETED,
        response_status=status_code,
        response_body=seal(_jsonable(body), purpose=_SEAL_PURPOSE),
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


def _stores(status_code: int) -> bool:
    """A 5xx or a 400 is not kept: nothing was done, the client may retry with the key."""
    return status_code < 500 and status_code != status.HTTP_400_BAD_REQUEST


def _existing_answer(*, owner: str, key: str, fingerprint: str) -> StoredResponse | None:
    """The stored answer of a key that is taken; None if it is free again (released,
    purged, abandoned). Raises for a different request or one still in progress."""
    existing = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
    if existing is None:
        return None
    if _is_abandoned(existing, now=timezone.now()):
        IdempotencyRecord.objects.filter(pk=existing.pk).delete()
        return None
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyConflictError()
    if existing.status == IdempotencyRecord.Status.IN_PROGRESS:
        raise IdempotencyInProgressError(details={"retry_after": 1})
    body = existing.response_body
    if isinstance(body, str) and is_sealed(body):
        try:
            body = unseal(body, purpose=_SEAL_PURPOSE)
        except UnsealError:
            # Sealed with a key this deployment no longer has: it cannot be replayed.
            # Forget it; the domain's own guards (a checked-out cart) answer the retry.
            logger.warning("idempotency record %s cannot be opened; released", existing.pk)
            IdempotencyRecord.objects.filter(pk=existing.pk).delete()
            return None
    return StoredResponse(status=int(existing.response_status or 200), body=body)


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


class _KeyTaken(Exception):
    """The key has a committed record: read it outside the failed transaction."""


class _Discard(Exception):
    """Roll the work back (and the claim with it) but answer ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _advisory_key(owner: str, key: str) -> int:
    """A signed 32-bit number naming (owner, key) for ``pg_try_advisory_xact_lock``."""
    digest = hashlib.sha256(f"{owner}\n{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


def _claim_in_transaction(*, owner: str, key: str, fingerprint: str) -> IdempotencyRecord:
    """Insert the claim inside the current transaction (it commits with the work).

    On PostgreSQL the INSERT runs only if this transaction gets the key's advisory lock
    (``pg_try_advisory_xact_lock``, released at commit or rollback, or when the backend
    dies), in the same statement: a duplicate while the first runs is a 409 at once,
    never a wait on the unique index. ``_KeyTaken`` when a committed record holds the key.
    """
    connection = transaction.get_connection()
    now = timezone.now()
    try:
        if connection.vendor != "postgresql":
            return IdempotencyRecord.objects.create(
                owner=owner, key=key, request_fingerprint=fingerprint
            )
        table = connection.ops.quote_name(IdempotencyRecord._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (owner, key, request_fingerprint, status, created_at) "
                "SELECT %s, %s, %s, %s, %s WHERE pg_try_advisory_xact_lock(%s, %s) "
                "RETURNING id",
                [
                    owner,
                    key,
                    fingerprint,
                    IdempotencyRecord.Status.IN_PROGRESS,
                    now,
                    _ADVISORY_CLASS,
                    _advisory_key(owner, key),
                ],
            )
            row = cursor.fetchone()
    except IntegrityError as exc:
        raise _KeyTaken() from exc
    if row is None:  # another transaction holds the key: the first request is running
        raise IdempotencyInProgressError(details={"retry_after": 1})
    return IdempotencyRecord(
        pk=row[0],
        owner=owner,
        key=key,
        request_fingerprint=fingerprint,
        status=IdempotencyRecord.Status.IN_PROGRESS,
        created_at=now,
    )


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
            return _run_idempotently(
                view, action, request, args, kwargs, owner_id, key, fingerprint
            )

        return wrapper

    return decorate


def _run_idempotently(
    view: Any,
    action: Action,
    request: Request,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    owner: str,
    key: str,
    fingerprint: str,
) -> Response:
    """Claim, work and answer in one transaction; or replay the answer already stored."""
    for _ in range(_CLAIM_ATTEMPTS):
        try:
            with transaction.atomic():
                record = _claim_in_transaction(owner=owner, key=key, fingerprint=fingerprint)
                response = _run(view, action, request, args, kwargs)
                if not _stores(response.status_code):
                    raise _Discard(response)
                idempotency_complete(
                    record=record, status_code=response.status_code, body=response.data
                )
            return response
        except _Discard as discarded:
            return discarded.response
        except _KeyTaken:
            stored = _existing_answer(owner=owner, key=key, fingerprint=fingerprint)
            if stored is not None:
                return Response(
                    stored.body, status=stored.status, headers={REPLAYED_HEADER: "true"}
                )
    raise IdempotencyInProgressError(details={"retry_after": 1})


def _run(
    view: Any,
    action: Action,
    request: Request,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Response:
    """Run the action; an error becomes its error response so it can be stored too."""
    try:
        return action(view, request, *args, **kwargs)
    except Exception as exc:
        response: Response = view.handle_exception(exc)
        return response
