"""The processes under test: the product's gunicorn, the baseline's, the query counter, Celery.

All of them get the same environment (``service_env``): production settings,
the bench database and Redis database, huge throttle rates, no TLS redirect.
"""

from __future__ import annotations

import http.client
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import procs
from harness.procs import Managed, ProcessGroup

ROOT = Path(__file__).resolve().parents[2]
BACKEND = ROOT / "backend"
BENCH = ROOT / "bench"
VENV_BIN = Path(sys.executable).parent
HUGE_RATE = "100000000/s"


def service_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "THROTTLE_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.prod",
            "SECRET_KEY": "bench-" + secrets.token_urlsafe(48),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PAYMENT_PROVIDERS": "sandbox",  # prod refuses a provider without its keys
            "SANDBOX_WEBHOOK_SECRET": "whsec_bench_" + secrets.token_urlsafe(16),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "DB_CONN_MAX_AGE": "60",
            "SECURE_SSL_REDIRECT": "false",
            "DEBUG": "false",
            "OTEL_MODE": "off",
            # Production's default is SMTP; the bench has no mail server.
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(BACKEND),
        }
    )
    for scope in ("ANON", "USER", "AUTH", "CHECKOUT", "PAYMENT"):
        env[f"THROTTLE_{scope}"] = HUGE_RATE
    return env


@dataclass
class Server:
    """A gunicorn master and its workers, listening on 127.0.0.1:port."""

    name: str
    port: int
    managed: Managed
    health_path: str
    extra: dict[str, str] = field(default_factory=dict)

    def worker_pids(self) -> list[int]:
        return procs.children(self.managed.pid)

    def cpu(self) -> procs.CpuSnapshot:
        return procs.CpuSnapshot.of(self.worker_pids())

    def rss_kib(self) -> dict[int, int]:
        found = {}
        for pid in self.worker_pids():
            value = procs.rss_kib(pid)
            if value is not None:
                found[pid] = value
        return found


def _get_status(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        conn.close()


@dataclass
class Launch:
    """A gunicorn that was started and is not known to be ready yet."""

    group: ProcessGroup
    name: str
    app: str
    cwd: Path
    env: dict[str, str]
    health_path: str
    workers: int
    extra_args: tuple[str, ...]
    port: int = 0
    managed: Managed | None = None

    def spawn(self) -> Launch:
        self.port = procs.free_port()
        argv = [
            str(VENV_BIN / "gunicorn"),
            self.app,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--worker-class",
            "sync",
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            *self.extra_args,
        ]
        self.managed = self.group.start(self.name, argv, cwd=self.cwd, env=self.env)
        return self

    def ready(self, timeout: float = 90.0, *, retry: bool = True) -> Server:
        """Wait until the master has its workers and one answers the health path."""
        managed = self.managed
        assert managed is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and managed.alive():
            workers = procs.children(managed.pid)
            if len(workers) >= self.workers and _get_status(self.port, self.health_path) == 200:
                return Server(
                    name=self.name, port=self.port, managed=managed, health_path=self.health_path
                )
            time.sleep(0.2)
        tail = managed.log_tail()
        self.group.stop(managed)
        if retry and "Address already in use" in tail:  # lost the race for the free port
            return self.spawn().ready(timeout, retry=False)
        raise RuntimeError(f"{self.name}: gunicorn did not become ready:\n{tail}")


def spawn_gunicorn(
    group: ProcessGroup,
    name: str,
    *,
    app: str,
    cwd: Path,
    env: dict[str, str],
    health_path: str,
    workers: int = 2,
    extra_args: tuple[str, ...] = (),
) -> Launch:
    """Start gunicorn on a free port of 127.0.0.1; call ``.ready()`` on the result."""
    return Launch(group, name, app, cwd, env, health_path, workers, extra_args).spawn()


def spawn_product(
    group: ProcessGroup, env: dict[str, str], *, name: str = "target", workers: int = 2
) -> Launch:
    return spawn_gunicorn(
        group,
        name,
        app="config.wsgi",
        cwd=BACKEND,
        env=env,
        health_path="/healthz",
        workers=workers,
    )


def spawn_query_counter(group: ProcessGroup, env: dict[str, str], log_path: Path) -> Launch:
    qenv = {
        **env,
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": f"{BACKEND}{os.pathsep}{BENCH}",
        "BENCH_QUERY_LOG": str(log_path),
    }
    return spawn_gunicorn(
        group,
        "querycount",
        app="config.wsgi",
        cwd=BACKEND,
        env=qenv,
        health_path="/healthz",
        workers=1,
        extra_args=("--pythonpath", str(BENCH)),
    )


def spawn_baseline(group: ProcessGroup, env: dict[str, str]) -> Launch:
    benv = {**env, "DJANGO_SETTINGS_MODULE": "baseline.settings", "PYTHONPATH": str(BENCH)}
    return spawn_gunicorn(
        group, "baseline", app="baseline.wsgi", cwd=BENCH, env=benv, health_path="/"
    )


@dataclass
class Worker:
    managed: Managed

    def pids(self) -> list[int]:
        return [self.managed.pid, *procs.children(self.managed.pid)]

    def cpu(self) -> procs.CpuSnapshot:
        return procs.CpuSnapshot.of(self.pids())


def start_celery(
    group: ProcessGroup, env: dict[str, str], *, concurrency: int = 2, wait: bool = True
) -> Worker:
    argv = [
        str(VENV_BIN / "celery"),
        "-A",
        "workers.celery",
        "worker",
        "-Q",
        "payments,emails,webhooks,maintenance,default",
        "--concurrency",
        str(concurrency),
        "--pool",
        "prefork",
        "-l",
        "info",
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"bench-{os.getpid()}@%h",
    ]
    worker = Worker(group.start("celery", argv, cwd=BACKEND, env=env))
    if wait:
        wait_celery_ready(worker)
    return worker


def wait_celery_ready(worker: Worker, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.managed.alive():
            raise RuntimeError(f"celery worker exited:\n{worker.managed.log_tail()}")
        if "ready." in worker.managed.log_tail(200_000):
            return
        time.sleep(0.2)
    raise RuntimeError(
        f"celery worker not ready after {timeout:.0f}s:\n{worker.managed.log_tail()}"
    )
