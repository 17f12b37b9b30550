"""Throttle limits hold across gunicorn worker processes (shared Redis cache)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest

from tests.conftest import REDIS_URL
from tests.processes import Gunicorn

LIMIT = 10


@pytest.fixture
def gunicorn_url(_test_db_name: str) -> Iterator[str]:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()  # start from empty throttle counters
    server = Gunicorn(_test_db_name, workers=3, env={"THROTTLE_AUTH": f"{LIMIT}/min"})
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def _attempt(url: str) -> int:
    # An invalid registration: cheap (no password hashing) but still in the `auth` scope.
    body = json.dumps({"email": "not-an-email"}).encode()
    request = urllib.request.Request(
        f"{url}/api/v1/auth/register/",
        data=body,
        headers={"Content-Type": "application/json", "Connection": "close"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        if exc.code == 429:
            assert int(exc.headers["Retry-After"]) > 0
            assert json.loads(exc.read())["error"] == "throttled"
        return int(exc.code)


@pytest.mark.django_db(transaction=True)
def test_auth_throttle_holds_across_processes(gunicorn_url: str) -> None:
    with ProcessPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(_attempt, [gunicorn_url] * 40))
    allowed = [s for s in statuses if s != 429]
    throttled = [s for s in statuses if s == 429]
    assert all(s == 400 for s in allowed), statuses
    # A small margin: two workers may both read the counter before either writes it.
    assert LIMIT - 1 <= len(allowed) <= LIMIT + 2, statuses
    assert len(throttled) >= 40 - LIMIT - 2
