"""Throttle limits hold across gunicorn worker processes (shared Redis cache)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import BACKEND, REDIS_URL
from tests.processes import free_port, gunicorn_command

LIMIT = 10


@pytest.fixture
def gunicorn_url(django_db_setup: object, django_db_blocker: object) -> Iterator[str]:
    import redis
    from django.conf import settings

    redis.Redis.from_url(REDIS_URL).flushdb()  # start from empty throttle counters
    db = settings.DATABASES["default"]
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        "SECRET_KEY": "throttle-test-secret-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "PAYMENT_PROVIDERS": "sandbox",  # prod refuses a provider without its keys
        "SANDBOX_WEBHOOK_SECRET": "whsec_throttle_test",
        "DATABASE_URL": f"postgres://{db.get('USER') or 'postgres'}@127.0.0.1:5432/{db['NAME']}",
        "REDIS_URL": REDIS_URL,
        "SECURE_SSL_REDIRECT": "false",
        "THROTTLE_AUTH": f"{LIMIT}/min",
        "PYTHONPATH": str(BACKEND),
    }
    log = Path(f"/tmp/storefront-it-gunicorn-{port}.log").open("wb")
    proc = subprocess.Popen(
        gunicorn_command(port, workers=3),
        cwd=BACKEND,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


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
