"""Idempotency-Key: claim, replay, conflict, in-progress, release on 5xx/400, expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework import permissions, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate

from apps.accounts.models import User
from apps.core.models import IdempotencyRecord
from utils.errors import InvalidStateError
from utils.idempotency import (
    IdempotencyConflictError,
    IdempotencyInProgressError,
    StoredResponse,
    idempotency_begin,
    idempotency_purge_expired,
    idempotent,
    request_fingerprint,
)

pytestmark = pytest.mark.django_db

CART = "2f1c7a52-6a38-4b8e-9a55-3c0f0d7c1e11"
URL = f"/api/v1/things/{CART}/act/"


class ThingViewSet(viewsets.GenericViewSet):
    """A stand-in action: counts its runs and answers what the test asks for."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []
    runs: list[dict[str, Any]] = []

    @idempotent()
    def act(self, request: Request, pk: str | None = None) -> Response:
        self.runs.append(dict(request.data))
        outcome = request.data.get("outcome", "created")
        if outcome == "boom":
            raise RuntimeError("a bug")
        if outcome == "invalid":
            raise ValidationError({"field": ["bad"]})
        if outcome == "conflict":
            raise InvalidStateError("nope")
        return Response({"n": len(self.runs), "pk": pk}, status=status.HTTP_201_CREATED)


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    ThingViewSet.runs = []


def _call(body: dict[str, Any], key: str | None = "key-1", user: User | None = None) -> Response:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    request = APIRequestFactory().post(URL, body, format="json", **headers)
    if user is not None:
        force_authenticate(request, user=user)
    view = ThingViewSet.as_view({"post": "act"})
    response: Response = view(request, pk=CART)
    response.render()
    return response


def test_without_a_key_every_request_runs() -> None:
    assert _call({}, key=None).status_code == 201
    assert _call({}, key=None).status_code == 201
    assert len(ThingViewSet.runs) == 2
    assert not IdempotencyRecord.objects.exists()


def test_a_replay_returns_the_stored_response_without_running_again() -> None:
    first = _call({"a": 1})
    again = _call({"a": 1})
    assert first.status_code == again.status_code == 201
    assert again.data == first.data == {"n": 1, "pk": CART}
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert len(ThingViewSet.runs) == 1
    record = IdempotencyRecord.objects.get()
    assert (record.owner, record.key, record.status) == (f"cart:{CART}", "key-1", "completed")
    assert record.response_status == 201


def test_the_fingerprint_ignores_key_order_but_not_values() -> None:
    one = request_fingerprint(method="POST", path="/x/", body={"a": 1, "b": [1, 2]})
    same = request_fingerprint(method="post", path="/x/", body={"b": [1, 2], "a": 1})
    other = request_fingerprint(method="POST", path="/x/", body={"a": 2, "b": [1, 2]})
    elsewhere = request_fingerprint(method="POST", path="/y/", body={"a": 1, "b": [1, 2]})
    assert one == same
    assert len({one, other, elsewhere}) == 3


def test_the_same_key_with_another_body_is_422() -> None:
    _call({"a": 1})
    response = _call({"a": 2})
    assert response.status_code == 422
    assert response.data["error"] == "idempotency_conflict"
    assert len(ThingViewSet.runs) == 1


def test_a_duplicate_while_the_first_is_running_is_409() -> None:
    fingerprint = request_fingerprint(method="POST", path=URL, body={})
    IdempotencyRecord.objects.create(
        owner=f"cart:{CART}", key="key-1", request_fingerprint=fingerprint
    )
    response = _call({})
    assert response.status_code == 409
    assert response.data["error"] == "idempotency_in_progress"
    assert ThingViewSet.runs == []


def test_keys_are_scoped_to_their_owner(make_user: Any) -> None:
    alice, bob = make_user(), make_user()
    assert _call({}, user=alice).data["n"] == 1
    assert _call({}, user=bob).data["n"] == 2  # same key, another owner: runs again
    assert _call({}, user=alice).data["n"] == 1  # replayed for alice
    assert sorted(IdempotencyRecord.objects.values_list("owner", flat=True)) == sorted(
        [f"user:{alice.pk}", f"user:{bob.pk}"]
    )


@pytest.mark.parametrize(("key", "expected"), [("k" * 255, 201), ("k" * 256, 400), ("", 400)])
def test_key_length_is_checked(key: str, expected: int) -> None:
    response = _call({}, key=key)
    assert response.status_code == expected
    if expected == 400:
        assert response.data["error"] == "validation_error"
        assert "Idempotency-Key" in response.data["details"]
        assert not IdempotencyRecord.objects.exists()


def test_a_5xx_is_not_stored_so_the_client_can_retry() -> None:
    failed = _call({"outcome": "boom"})
    assert failed.status_code == 500
    assert not IdempotencyRecord.objects.exists()
    assert _call({"outcome": "boom"}).status_code == 500
    assert len(ThingViewSet.runs) == 2


def test_a_400_is_not_stored_so_the_corrected_request_can_use_the_key() -> None:
    assert _call({"outcome": "invalid"}).status_code == 400
    assert not IdempotencyRecord.objects.exists()
    assert _call({"outcome": "created"}).status_code == 201


def test_a_refusal_such_as_409_is_stored_and_replayed() -> None:
    first = _call({"outcome": "conflict"})
    again = _call({"outcome": "conflict"})
    assert first.status_code == again.status_code == 409
    assert again.data == first.data
    assert again["Idempotent-Replayed"] == "true"
    assert len(ThingViewSet.runs) == 1


def test_an_expired_record_counts_as_absent(settings: Any) -> None:
    _call({"a": 1})
    old = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS, minutes=1)
    IdempotencyRecord.objects.update(created_at=old)
    response = _call({"a": 2})  # a different body would be a 422 if the key were alive
    assert response.status_code == 201
    assert len(ThingViewSet.runs) == 2
    assert IdempotencyRecord.objects.get().request_fingerprint == request_fingerprint(
        method="POST", path=URL, body={"a": 2}
    )


def test_an_abandoned_in_progress_claim_is_taken_over(settings: Any) -> None:
    settings.IDEMPOTENCY_IN_PROGRESS_TIMEOUT_SECONDS = 60
    fingerprint = request_fingerprint(method="POST", path=URL, body={})
    record = IdempotencyRecord.objects.create(
        owner=f"cart:{CART}", key="key-1", request_fingerprint=fingerprint
    )
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - timedelta(seconds=61)
    )
    assert _call({}).status_code == 201
    assert IdempotencyRecord.objects.get().status == "completed"


def test_purge_deletes_only_expired_records(settings: Any) -> None:
    for key in ("old", "new"):
        IdempotencyRecord.objects.create(owner="user:1", key=key, request_fingerprint="f")
    IdempotencyRecord.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS + 1)
    )
    assert idempotency_purge_expired() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_begin_returns_the_stored_response_or_raises() -> None:
    record = idempotency_begin(owner="user:9", key="k", fingerprint="f1")
    assert isinstance(record, IdempotencyRecord)
    with pytest.raises(IdempotencyInProgressError):
        idempotency_begin(owner="user:9", key="k", fingerprint="f1")
    with pytest.raises(IdempotencyConflictError):
        idempotency_begin(owner="user:9", key="k", fingerprint="f2")
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status="completed", response_status=200, response_body={"ok": True}
    )
    assert idempotency_begin(owner="user:9", key="k", fingerprint="f1") == StoredResponse(
        status=200, body={"ok": True}
    )


class WritingViewSet(viewsets.GenericViewSet):
    """An action that writes a row (a user), then answers or fails as asked."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []

    @idempotent()
    def act(self, request: Request, pk: str | None = None) -> Response:
        from django.db import OperationalError, transaction

        with transaction.atomic():  # the service's own transaction
            User.objects.create_user(email=f"{request.data['who']}@example.com", password="x")
        if request.data.get("after") == "db_lost":
            raise OperationalError("server closed the connection unexpectedly")
        return Response({"token": "guest-secret-token"}, status=status.HTTP_201_CREATED)


def _write(body: dict[str, Any]) -> Response:
    request = APIRequestFactory().post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="w-1")
    response: Response = WritingViewSet.as_view({"post": "act"})(request, pk=CART)
    response.render()
    return response


def test_the_answer_commits_with_the_work_and_is_stored_sealed() -> None:
    first = _write({"who": "a"})
    assert first.status_code == 201
    record = IdempotencyRecord.objects.get()
    assert record.status == "completed"
    assert "guest-secret-token" not in str(record.response_body)  # sealed, not plain text
    again = _write({"who": "a"})
    assert (again.status_code, again.data) == (201, {"token": "guest-secret-token"})
    assert again["Idempotent-Replayed"] == "true"
    assert User.objects.filter(email="a@example.com").count() == 1


def test_work_that_did_not_commit_leaves_the_key_free_at_once() -> None:
    """A lost connection after the service wrote: the whole transaction rolls back, the
    claim with it, and the retry with the same key runs at once (no 409)."""
    failed = _write({"who": "b", "after": "db_lost"})
    assert failed.status_code == 503
    assert not IdempotencyRecord.objects.exists()
    assert not User.objects.filter(email="b@example.com").exists()  # rolled back with it
    retry = _write({"who": "b", "after": "db_lost"})
    assert retry.status_code == 503  # ran again: not a 409 idempotency_in_progress
    assert not IdempotencyRecord.objects.exists()


def test_an_answer_stored_before_sealing_is_still_replayed() -> None:
    fingerprint = request_fingerprint(method="POST", path=URL, body={"a": 1})
    IdempotencyRecord.objects.create(
        owner=f"cart:{CART}",
        key="key-1",
        request_fingerprint=fingerprint,
        status="completed",
        response_status=201,
        response_body={"n": 7},
    )
    response = _call({"a": 1})
    assert (response.status_code, response.data) == (201, {"n": 7})
    assert ThingViewSet.runs == []
