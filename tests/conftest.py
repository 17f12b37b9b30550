"""Integration tier: real PostgreSQL, real Redis and a real Celery worker.

If the services are unreachable, the tier is skipped with one line saying why,
except under CI (``CI`` set), where that is a failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BACKEND = ROOT / "backend"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
SPANS_FILE = Path(os.environ.get("OTEL_FILE_PATH", "/tmp/storefront-it-spans.jsonl"))
# The project's celery command (run it in BACKEND); the worker and beat add theirs.
CELERY = [sys.executable, "-m", "celery", "-A", "workers.celery"]
os.environ["OTEL_FILE_PATH"] = str(SPANS_FILE)


def _services_problem() -> str | None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return f"DATABASE_URL is not PostgreSQL ({db['ENGINE']})"
    try:
        import psycopg

        psycopg.connect(
            host=db.get("HOST") or "127.0.0.1",
            port=db.get("PORT") or 5432,
            user=db.get("USER") or "postgres",
            password=db.get("PASSWORD") or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except Exception as exc:
        return f"PostgreSQL unreachable: {exc}"
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis unreachable at {REDIS_URL}: {exc}"
    return None


_PROBLEM: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _PROBLEM
    _PROBLEM = _services_problem()
    if _PROBLEM and os.environ.get("CI"):
        raise pytest.UsageError(f"integration services missing in CI: {_PROBLEM}")


def pytest_report_header(config: pytest.Config) -> str:
    if _PROBLEM:
        return f"integration tier SKIPPED: {_PROBLEM}"
    return "integration tier: PostgreSQL + Redis reachable"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _PROBLEM:
        return
    skip = pytest.mark.skip(reason=f"integration services unavailable: {_PROBLEM}")
    for item in items:
        item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _flush_redis() -> None:
    if _PROBLEM:
        return
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


@pytest.fixture(autouse=True)
def _pricing_copies_forgotten() -> None:
    """Each test's database starts emptied without model signals (a flush): this process's
    pricing rule copies (``apps.pricing.reference``) must not outlive the rows they hold."""
    if _PROBLEM:
        return
    from apps.pricing.reference import TABLES

    for table in TABLES:
        table.forget()


@pytest.fixture(autouse=True)
def _default_shipping(request: pytest.FixtureRequest) -> None:
    """As in the unit tier: a test with a database ships anywhere (standard, express)."""
    if _PROBLEM:
        return
    from apps.pricing.factories import shipping_default_for

    shipping_default_for(request)


def _worker_env(db_name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    from django.conf import settings

    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
    url = f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db_name}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.integration",
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "PYTHONPATH": str(BACKEND),
        "OTEL_FILE_PATH": str(SPANS_FILE),
    }
    env.update(extra or {})
    return env


class Worker:
    """A real ``celery worker`` subprocess bound to the test database."""

    def __init__(self, db_name: str, *, queues: str, concurrency: int, env: dict[str, str]):
        self.db_name = db_name
        self.queues = queues
        self.concurrency = concurrency
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(f"/tmp/storefront-it-worker-{os.getpid()}-{id(self)}.log")

    def start(self) -> Worker:
        handle = self.log.open("wb")
        self.proc = subprocess.Popen(
            [
                *CELERY,
                "worker",
                "-Q",
                self.queues,
                "--concurrency",
                str(self.concurrency),
                "--pool",
                "prefork",
                "-l",
                "info",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"it-{os.getpid()}-{id(self)}@%h",
            ],
            cwd=BACKEND,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log.read_text()[-4000:]}")
            if b"ready." in self.log.read_bytes():
                return self
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start:\n{self.log.read_text()[-4000:]}")

    def children(self) -> list[int]:
        assert self.proc is not None
        out = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in out.stdout.split()]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def _test_db_name(django_db_setup: Any, django_db_blocker: Any) -> str:
    from django.db import connection

    with django_db_blocker.unblock():
        return str(connection.settings_dict["NAME"])


@pytest.fixture
def worker_factory(_test_db_name: str) -> Iterator[Callable[..., Worker]]:
    """Start real workers on the test database; each is stopped when the test ends.

    Workers are per test so that one test's workers (with their own settings,
    e.g. a slow provider) never consume another test's tasks.
    """
    started: list[Worker] = []

    def start(
        *,
        queues: str = "default,payments,emails,webhooks,maintenance",
        concurrency: int = 2,
        env: dict[str, str] | None = None,
    ) -> Worker:
        worker = Worker(
            _test_db_name,
            queues=queues,
            concurrency=concurrency,
            env=_worker_env(_test_db_name, env),
        ).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def celery_worker(worker_factory: Callable[..., Worker]) -> Worker:
    """A worker on every queue, with file-exported tracing."""
    return worker_factory(env={"OTEL_MODE": "file"})


def wait_for(predicate: Callable[[], Any], *, timeout: float = 20, interval: float = 0.1) -> Any:
    """Poll until ``predicate()`` is truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")
