"""Processes the integration tests start and stop themselves: a free port, a private
redis-server (a broker or cache a test may stop), ``celery beat`` and the command line
of a gunicorn serving the project.

Shared by ``test_nothing_lost``, ``test_faults`` and the HTTP server tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import BACKEND, CELERY, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn_command(port: int, *, workers: int) -> list[str]:
    """gunicorn serving ``config.wsgi`` on 127.0.0.1:``port`` (run it in ``BACKEND``)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]


class RedisServer:
    """A private redis-server process on a free port: the broker we can stop."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=10)

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except Exception:
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class Beat:
    """``celery beat`` with a file schedule (the database scheduler is not under test)."""

    def __init__(self, env: dict[str, str], tag: str) -> None:
        self.log = Path(f"/tmp/storefront-it-beat-{os.getpid()}-{tag}.log")
        schedule = f"/tmp/storefront-it-beat-{os.getpid()}-{tag}.db"
        for leftover in Path("/tmp").glob(Path(schedule).name + "*"):
            leftover.unlink()
        self.proc = subprocess.Popen(
            [
                *CELERY,
                "beat",
                "-l",
                "info",
                "--scheduler",
                "celery.beat:PersistentScheduler",
                "-s",
                schedule,
            ],
            cwd=BACKEND,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)


class Gunicorn:
    """gunicorn with the production settings on a free port, bound to the test database
    and the tests' Redis; ``env`` adds or overrides settings."""

    def __init__(self, db_name: str, *, workers: int = 2, env: dict[str, str] | None = None):
        from tests.conftest import REDIS_URL

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(f"/tmp/storefront-it-gunicorn-{self.port}.log")
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.prod",
            "SECRET_KEY": "integration-gunicorn-" + "s" * 40,
            "ALLOWED_HOSTS": "127.0.0.1",
            "PAYMENT_PROVIDERS": "sandbox",  # prod refuses a provider without its keys
            "SANDBOX_WEBHOOK_SECRET": "whsec_integration_gunicorn",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db_name}",
            "REDIS_URL": REDIS_URL,
            "SECURE_SSL_REDIRECT": "false",
            "PYTHONPATH": str(BACKEND),
            **(env or {}),
        }
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Gunicorn:
        command = gunicorn_command(self.port, workers=self.workers)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                command, cwd=BACKEND, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for(self._answers, timeout=60)
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
